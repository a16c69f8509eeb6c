// What the terminal client knows about the chat: everyone's presence, each conversation's
// messages, receipt watermarks, unread counts, who is typing, and the messages of ours the
// server has not stamped yet. Events from chat_client go in; the screen reads it out.
// No I/O and no clock of its own (times are passed in), so it is unit tested.
//
// Invariants: a conversation's `messages` are keyed (so ordered and de-duplicated) by the
// server's id; a message of ours is in `pending` until its stamped copy (same
// client_msg_id) arrives, then only in `messages`. Watermarks only grow.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "natter/chat/v1/chat.pb.h"

namespace natter::term {

namespace v1 = natter::chat::v1;

struct pending_message {
  std::string client_msg_id;
  std::string text;
  std::int64_t sent_at_ms = 0;
  std::string error;  // set when the server refused it
};

struct conversation {
  std::map<std::uint64_t, v1::ChatMessage> messages;
  std::vector<pending_message> pending;
  std::uint64_t peer_delivered_up_to = 0;  // of my messages
  std::uint64_t peer_read_up_to = 0;       // of my messages
  std::uint64_t my_read_up_to = 0;         // of the peer's messages
  std::uint64_t newest_peer_id = 0;        // the newest message from the peer we heard of
  unsigned unread = 0;
  bool history_requested = false;  // the first page was asked for
  bool loading = false;            // a page is on its way
  bool has_more = true;            // older messages may exist on the server
  std::int64_t typing_until_ms = 0;
  std::int64_t last_activity_ms = 0;  // the newest message's time (contact order)
};

enum class mark : std::uint8_t { none, pending, sent, delivered, read, failed };

class chat_model {
 public:
  explicit chat_model(std::string me) : me_(std::move(me)) {}

  const std::string& me() const noexcept { return me_; }

  // The conversation a message belongs to: the other user (me for notes to self).
  std::string peer_of(const v1::ChatMessage& m) const;

  // ---- events. Each returns the peer whose conversation changed (empty: none).
  // A live inbox message; counts as unread unless it is mine or already read.
  std::string on_message(const v1::ChatMessage& m);
  std::string on_receipt(const v1::Receipt& r);
  void on_presence(const v1::Presence& p);
  // Accept any version next (a new session: the server may have restarted afresh).
  void forget_presence_versions();
  std::string on_typing(const v1::Typing& t, std::int64_t now_ms);
  std::string on_history(const v1::HistoryResponse& r);
  void on_conversations(const v1::ConversationsResponse& r);

  // A message of ours on its way; `failed` once the server refused it.
  void add_pending(const std::string& peer, pending_message p);
  void pending_failed(const std::string& peer, const std::string& client_msg_id, std::string error);

  // The user has seen everything from `peer` up to `id`. True when that moves the
  // watermark (a READ receipt should go out).
  bool mark_read(const std::string& peer, std::uint64_t id);

  // ---- queries
  conversation& conv(const std::string& peer) { return convs_[peer]; }
  const conversation* find(const std::string& peer) const;
  const v1::Presence* presence(const std::string& user) const;
  // Everyone to list: users with a presence and peers with a conversation, by name.
  std::vector<std::string> contacts() const;
  bool is_typing(const std::string& peer, std::int64_t now_ms) const;
  mark mark_of(const std::string& peer, const v1::ChatMessage& m) const;
  unsigned total_unread() const;

 private:
  void recount_unread(conversation& c, bool watermark_moved);

  std::string me_;
  std::map<std::string, v1::Presence> presence_;
  std::map<std::string, conversation> convs_;
};

}  // namespace natter::term
