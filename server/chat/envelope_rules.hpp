// What the chat service accepts from a client on chat/{user}/outbox and
// presence/{user}/{client id} (docs/protocol.md "Limits"). Pure functions over the
// protobuf types: no broker, no store, so they are unit tested and fuzzed on their own.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "natter/chat/v1/chat.pb.h"

namespace natter::chat {

namespace pb = natter::chat::v1;

struct limits {
  std::size_t max_text_bytes = 16384;
  std::size_t max_client_msg_id_bytes = 128;
  std::size_t max_status_bytes = 256;
  std::size_t max_user_bytes = 128;
  std::uint32_t max_history_page = 200;
  std::uint32_t default_history_page = 50;
};

// A user name chat can address: what the ACL's %u can stand for in a topic level.
bool valid_user_name(std::string_view name, const limits& l = {});

// Parses an outbox payload. nullopt: not a valid Envelope (bad protobuf, invalid UTF-8 in a
// string field, no kind set).
std::optional<pb::Envelope> parse_envelope(std::string_view payload);
std::optional<pb::Presence> parse_presence(std::string_view payload);

// Why a client may not send this envelope (empty: it may). Server-to-client kinds
// (responses) are refused.
std::string envelope_problem(const pb::Envelope& e, const limits& l = {});
std::string presence_problem(const pb::Presence& p, const limits& l = {});

}  // namespace natter::chat
