// The subscription trie: topic filter levels as edges, subscribers at the node where their
// filter ends. Matching a topic walks at most three edges per level ("level", "+", "#"),
// so its cost depends on the topic's depth and the matching filters, not on how many
// subscriptions exist.
//
// Invariants: a node exists only while some subscription ends at or below it (empty nodes
// are pruned on unsubscribe); a (subscriber, filter) pair appears once; shared
// subscriptions ($share/{name}/{filter}) live in their filter's node, grouped by share
// name, and each match picks exactly one member of each group [MQTT-4.8.2-*].
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mqtt/packet.hpp"

namespace natter::broker {

struct session;

struct subscription_options {
  mqtt::qos max_qos = mqtt::qos::at_most_once;
  bool no_local = false;
  bool retain_as_published = false;
  std::uint8_t retain_handling = 0;
  std::uint32_t subscription_id = 0;  // 0: none
};

class subscription_tree {
 public:
  subscription_tree();
  ~subscription_tree();

  // Adds or replaces; returns true when the subscription is new (Retain Handling 1).
  // `filter` may be a $share filter.
  bool subscribe(session* s, std::string_view filter, const subscription_options& opts);
  // Returns false when there was no such subscription.
  bool unsubscribe(session* s, std::string_view filter);

  // Calls fn(session*, options) for every subscription whose filter matches `topic`, one
  // member per shared group. `prefer` chooses a shared-group member (e.g. connected ones).
  using visitor = std::function<void(session*, const subscription_options&)>;
  void match(std::string_view topic, const visitor& fn,
             const std::function<bool(const session*)>& prefer) const;

  std::size_t size() const { return count_; }

 private:
  struct node;
  struct shared_group;
  node* find_or_create(std::string_view filter);
  std::unique_ptr<node> root_;
  std::size_t count_ = 0;
};

}  // namespace natter::broker
