// The chat history in memory, for `persistence false`: the same behaviour as the SQLite
// store while the process lives, nothing after. Reads answer through the deferrer (the
// broker strand), never from inside the call, as the SQLite store does.
#pragma once

#include <functional>
#include <map>
#include <vector>

#include "store/store.hpp"

namespace natter::chat {

class memory_chat_store final : public store::chat_store {
 public:
  using deferrer = std::function<void(std::function<void()>)>;
  explicit memory_chat_store(deferrer defer) : defer_(std::move(defer)) {}

  void put_chat_message(const store::chat_message_record& m) override;
  void put_chat_receipt(const store::chat_receipt_record& r) override;
  void read_history(store::chat_history_query q,
                    std::function<void(store::chat_history_page)> done) override;
  void read_conversations(std::string user,
                          std::unordered_map<std::string, std::uint64_t> read_up_to,
                          std::function<void(std::vector<store::chat_conversation>)> done) override;
  store::chat_snapshot load_chat(std::size_t recent) override;

 private:
  deferrer defer_;
  std::map<std::uint64_t, store::chat_message_record> messages_;  // by id
  std::vector<store::chat_receipt_record> receipts_;
};

}  // namespace natter::chat
