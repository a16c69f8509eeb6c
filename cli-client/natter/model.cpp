#include "model.hpp"

#include <algorithm>
#include <set>

namespace natter::term {

std::string chat_model::peer_of(const v1::ChatMessage& m) const {
  return m.sender() == me_ ? m.recipient() : m.sender();
}

std::string chat_model::on_message(const v1::ChatMessage& m) {
  const std::string peer = peer_of(m);
  if (peer.empty()) return {};
  conversation& c = convs_[peer];
  const bool fresh = c.messages.emplace(m.id(), m).second;
  if (m.sender() == me_) {
    std::erase_if(c.pending,
                  [&](const pending_message& p) { return p.client_msg_id == m.client_msg_id(); });
  }
  c.last_activity_ms = std::max(c.last_activity_ms, m.server_at_ms());
  if (m.sender() == peer && m.sender() != me_) {
    c.typing_until_ms = 0;  // they sent what they were typing
    if (m.id() > c.newest_peer_id) c.newest_peer_id = m.id();
    if (fresh && m.id() > c.my_read_up_to) ++c.unread;
  }
  return peer;
}

std::string chat_model::on_receipt(const v1::Receipt& r) {
  if (r.reader() == me_) {
    // One of my devices read (or received) the peer's messages.
    if (r.kind() != v1::RECEIPT_KIND_READ) return {};
    conversation& c = convs_[r.peer()];
    if (r.up_to_id() <= c.my_read_up_to) return {};
    c.my_read_up_to = r.up_to_id();
    recount_unread(c, true);
    return r.peer();
  }
  if (r.peer() != me_) return {};
  conversation& c = convs_[r.reader()];
  c.peer_delivered_up_to = std::max(c.peer_delivered_up_to, r.up_to_id());
  if (r.kind() == v1::RECEIPT_KIND_READ)
    c.peer_read_up_to = std::max(c.peer_read_up_to, r.up_to_id());
  return r.reader();
}

void chat_model::on_presence(const v1::Presence& p) {
  auto it = presence_.find(p.user());
  if (it != presence_.end() && p.version() < it->second.version()) return;
  presence_[p.user()] = p;
}

void chat_model::forget_presence_versions() {
  for (auto& [user, p] : presence_) p.set_version(0);
}

std::string chat_model::on_typing(const v1::Typing& t, std::int64_t now_ms) {
  if (t.sender().empty() || t.sender() == me_) return {};
  conversation& c = convs_[t.sender()];
  // A client refreshes active=true every ~3 s while typing; hide it after 6 s without.
  c.typing_until_ms = t.active() ? now_ms + 6000 : 0;
  return t.sender();
}

std::string chat_model::on_history(const v1::HistoryResponse& r) {
  conversation& c = convs_[r.peer()];
  c.loading = false;
  c.has_more = r.has_more();
  for (const auto& m : r.messages()) {
    c.messages.emplace(m.id(), m);
    if (m.sender() == me_) {
      std::erase_if(c.pending,
                    [&](const pending_message& p) { return p.client_msg_id == m.client_msg_id(); });
    } else if (m.id() > c.newest_peer_id) {
      c.newest_peer_id = m.id();
    }
    c.last_activity_ms = std::max(c.last_activity_ms, m.server_at_ms());
  }
  c.peer_delivered_up_to = std::max(c.peer_delivered_up_to, r.peer_delivered_up_to());
  c.peer_read_up_to = std::max(c.peer_read_up_to, r.peer_read_up_to());
  const bool moved = r.my_read_up_to() > c.my_read_up_to;
  if (moved) c.my_read_up_to = r.my_read_up_to();
  recount_unread(c, moved);
  return r.peer();
}

void chat_model::on_conversations(const v1::ConversationsResponse& r) {
  for (const auto& s : r.conversations()) {
    conversation& c = convs_[s.peer()];
    c.peer_delivered_up_to = std::max(c.peer_delivered_up_to, s.peer_delivered_up_to());
    c.peer_read_up_to = std::max(c.peer_read_up_to, s.peer_read_up_to());
    c.my_read_up_to = std::max(c.my_read_up_to, s.my_read_up_to());
    if (s.has_last_message()) {
      const auto& m = s.last_message();
      c.last_activity_ms = std::max(c.last_activity_ms, m.server_at_ms());
      if (m.sender() != me_ && m.id() > c.newest_peer_id) c.newest_peer_id = m.id();
    }
    // The server counts what we may not have loaded; it is the better number.
    c.unread = s.unread_count();
  }
}

void chat_model::add_pending(const std::string& peer, pending_message p) {
  conversation& c = convs_[peer];
  c.last_activity_ms = std::max(c.last_activity_ms, p.sent_at_ms);
  c.pending.push_back(std::move(p));
}

void chat_model::pending_failed(const std::string& peer, const std::string& client_msg_id,
                                std::string error) {
  for (auto& p : convs_[peer].pending) {
    if (p.client_msg_id == client_msg_id) p.error = error;
  }
}

bool chat_model::mark_read(const std::string& peer, std::uint64_t id) {
  conversation& c = convs_[peer];
  if (id <= c.my_read_up_to) return false;
  c.my_read_up_to = id;
  recount_unread(c, true);
  return true;
}

void chat_model::recount_unread(conversation& c, bool watermark_moved) {
  if (c.my_read_up_to >= c.newest_peer_id) {
    c.unread = 0;
    return;
  }
  unsigned n = 0;
  for (auto it = c.messages.upper_bound(c.my_read_up_to); it != c.messages.end(); ++it) {
    if (it->second.sender() != me_) ++n;
  }
  // Exact when what is loaded reaches down to the watermark (history is loaded newest
  // first, without gaps); otherwise some unread messages are not loaded: at least one
  // remains, and without a new watermark the earlier count still holds.
  const bool complete =
      !c.has_more || (!c.messages.empty() && c.messages.begin()->first <= c.my_read_up_to);
  if (complete) {
    c.unread = n;
  } else {
    c.unread = std::max(n, watermark_moved ? 1u : c.unread);
  }
}

const conversation* chat_model::find(const std::string& peer) const {
  auto it = convs_.find(peer);
  return it == convs_.end() ? nullptr : &it->second;
}

const v1::Presence* chat_model::presence(const std::string& user) const {
  auto it = presence_.find(user);
  return it == presence_.end() ? nullptr : &it->second;
}

std::vector<std::string> chat_model::contacts() const {
  std::set<std::string> names;
  for (const auto& [user, p] : presence_) names.insert(user);
  for (const auto& [peer, c] : convs_) {
    if (!c.messages.empty() || !c.pending.empty() || c.last_activity_ms != 0) names.insert(peer);
  }
  return {names.begin(), names.end()};
}

bool chat_model::is_typing(const std::string& peer, std::int64_t now_ms) const {
  const conversation* c = find(peer);
  return c != nullptr && c->typing_until_ms > now_ms;
}

mark chat_model::mark_of(const std::string& peer, const v1::ChatMessage& m) const {
  if (m.sender() != me_) return mark::none;
  const conversation* c = find(peer);
  if (c == nullptr) return mark::sent;
  if (m.id() <= c->peer_read_up_to) return mark::read;
  if (m.id() <= c->peer_delivered_up_to) return mark::delivered;
  return mark::sent;
}

unsigned chat_model::total_unread() const {
  unsigned n = 0;
  for (const auto& [peer, c] : convs_) n += c.unread;
  return n;
}

}  // namespace natter::term
