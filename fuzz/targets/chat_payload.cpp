// Fuzz target: what the chat service accepts from clients (server/chat/envelope_rules), the
// protobuf payloads of chat/{user}/outbox (Envelope) and presence/{user}/{client id}
// (Presence). Input: byte 0 picks the type (bit 0 set: Envelope), the rest is the payload.
//
// Whatever parses is judged without crashing; what is accepted survives a serialize/parse
// round trip unchanged and still accepted; every user name it names (recipient, peer) can be
// used as the {user} level of an MQTT topic: chat/{user}/inbox is a valid topic name that
// "chat/+/inbox" matches. valid_user_name() is also run on the raw bytes, with the same
// topic check for the names it accepts that are valid UTF-8.
#include <cstdint>
#include <string>
#include <string_view>

#include "chat/envelope_rules.hpp"
#include "check.hpp"
#include "mqtt/topic.hpp"

namespace {

namespace chat = natter::chat;
namespace pb = natter::chat::v1;

void check_user_level(std::string_view name) {
  const std::string topic = "chat/" + std::string(name) + "/inbox";
  NATTER_FUZZ_CHECK(natter::mqtt::is_valid_topic_name(topic));
  NATTER_FUZZ_CHECK(natter::mqtt::topic_matches("chat/+/inbox", topic));
}

void check_envelope(std::string_view payload) {
  const auto e = chat::parse_envelope(payload);
  if (!e) return;
  NATTER_FUZZ_CHECK(e->kind_case() != pb::Envelope::KIND_NOT_SET);
  const std::string problem = chat::envelope_problem(*e);
  if (!problem.empty()) return;
  const std::string wire = e->SerializeAsString();
  const auto again = chat::parse_envelope(wire);
  NATTER_FUZZ_CHECK(again.has_value());
  NATTER_FUZZ_CHECK(chat::envelope_problem(*again).empty());
  NATTER_FUZZ_CHECK(again->SerializeAsString() == wire);
  switch (e->kind_case()) {
    case pb::Envelope::kMessage:
      check_user_level(e->message().recipient());
      NATTER_FUZZ_CHECK(!e->message().text().empty() && e->message().text().size() <= 16384);
      break;
    case pb::Envelope::kReceipt:
      check_user_level(e->receipt().peer());
      break;
    case pb::Envelope::kTyping:
      check_user_level(e->typing().recipient());
      break;
    case pb::Envelope::kHistoryRequest:
      check_user_level(e->history_request().peer());
      break;
    case pb::Envelope::kConversationsRequest:
      break;
    default:
      NATTER_FUZZ_CHECK(!"a server-to-client kind was accepted from a client");
  }
}

void check_presence(std::string_view payload) {
  const auto p = chat::parse_presence(payload);
  if (!p) return;
  if (!chat::presence_problem(*p).empty()) return;
  const std::string wire = p->SerializeAsString();
  const auto again = chat::parse_presence(wire);
  NATTER_FUZZ_CHECK(again.has_value() && chat::presence_problem(*again).empty());
  NATTER_FUZZ_CHECK(again->SerializeAsString() == wire);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1)
    check_envelope(payload);
  else
    check_presence(payload);
  if (chat::valid_user_name(payload) && natter::mqtt::is_valid_utf8(payload))
    check_user_level(payload);
  return 0;
}
