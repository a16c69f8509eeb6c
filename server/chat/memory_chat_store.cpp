#include "chat/memory_chat_store.hpp"

#include <algorithm>

namespace natter::chat {

namespace {
bool in_conversation(const store::chat_message_record& m, const std::string& a,
                     const std::string& b) {
  return (m.sender == a && m.recipient == b) || (m.sender == b && m.recipient == a);
}
}  // namespace

void memory_chat_store::put_chat_message(const store::chat_message_record& m) {
  messages_[m.id] = m;
}

void memory_chat_store::put_chat_receipt(const store::chat_receipt_record& r) {
  for (auto& have : receipts_)
    if (have.reader == r.reader && have.peer == r.peer && have.kind == r.kind) {
      have.up_to = std::max(have.up_to, r.up_to);
      return;
    }
  receipts_.push_back(r);
}

void memory_chat_store::read_history(store::chat_history_query q,
                                     std::function<void(store::chat_history_page)> done) {
  store::chat_history_page page;
  auto end = q.before_id == 0 ? messages_.end() : messages_.lower_bound(q.before_id);
  for (auto it = std::make_reverse_iterator(end); it != messages_.rend(); ++it) {
    if (!in_conversation(it->second, q.user, q.peer)) continue;
    if (page.messages.size() == q.limit) {
      page.has_more = true;
      break;
    }
    page.messages.push_back(it->second);
  }
  defer_([done = std::move(done), page = std::move(page)]() mutable { done(std::move(page)); });
}

void memory_chat_store::read_conversations(
    std::string user, std::unordered_map<std::string, std::uint64_t> read_up_to,
    std::function<void(std::vector<store::chat_conversation>)> done) {
  std::vector<store::chat_conversation> out;
  std::map<std::string, std::size_t> index;  // peer -> position in out
  for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {  // newest first
    const auto& m = it->second;
    if (m.sender != user && m.recipient != user) continue;
    const auto& peer = m.sender == user ? m.recipient : m.sender;
    auto [pos, fresh] = index.try_emplace(peer, out.size());
    if (fresh) out.push_back({peer, m, 0});
    if (m.sender == peer && peer != user && m.id > read_up_to[peer]) ++out[pos->second].unread;
  }
  defer_([done = std::move(done), out = std::move(out)]() mutable { done(std::move(out)); });
}

store::chat_snapshot memory_chat_store::load_chat(std::size_t) {
  return {};  // nothing survives a restart without persistence
}

}  // namespace natter::chat
