// Retained messages, one per topic, in a trie of topic levels so that a wildcard
// subscription finds its retained messages without scanning every topic.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "message.hpp"

namespace natter::broker {

class retained_store {
 public:
  retained_store();
  ~retained_store();

  // Stores `m` for its topic, or clears the topic when the payload is empty [MQTT-3.3.1-10].
  void update(const message_ptr& m);
  // Calls fn for every retained message whose topic matches `filter` (not a $share filter).
  void match(std::string_view filter, const std::function<void(const message_ptr&)>& fn) const;
  // Drops expired messages; returns how many.
  std::size_t purge_expired(clock::time_point now);
  std::size_t size() const { return count_; }

 private:
  struct node;
  std::unique_ptr<node> root_;
  std::size_t count_ = 0;
};

}  // namespace natter::broker
