#include "chat/envelope_rules.hpp"

namespace natter::chat {

bool valid_user_name(std::string_view name, const limits& l) {
  if (name.empty() || name.size() > l.max_user_bytes || name.front() == '$') return false;
  for (const char c : name)
    if (c == '/' || c == '+' || c == '#' || c == '\0') return false;
  return true;
}

namespace {
template <class T>
std::optional<T> parse(std::string_view payload) {
  T m;
  // proto3 string fields are checked for UTF-8 while parsing: invalid text fails here.
  if (!m.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) return std::nullopt;
  return m;
}
}  // namespace

std::optional<pb::Envelope> parse_envelope(std::string_view payload) {
  auto e = parse<pb::Envelope>(payload);
  if (e && e->kind_case() == pb::Envelope::KIND_NOT_SET) return std::nullopt;
  return e;
}

std::optional<pb::Presence> parse_presence(std::string_view payload) {
  return parse<pb::Presence>(payload);
}

std::string envelope_problem(const pb::Envelope& e, const limits& l) {
  switch (e.kind_case()) {
    case pb::Envelope::kMessage: {
      const auto& m = e.message();
      if (!valid_user_name(m.recipient(), l)) return "bad recipient name";
      if (m.text().empty()) return "empty text";
      if (m.text().size() > l.max_text_bytes) return "text too long";
      if (m.client_msg_id().empty() || m.client_msg_id().size() > l.max_client_msg_id_bytes)
        return "client_msg_id missing or too long";
      return {};
    }
    case pb::Envelope::kReceipt: {
      const auto& r = e.receipt();
      if (r.kind() != pb::RECEIPT_KIND_DELIVERED && r.kind() != pb::RECEIPT_KIND_READ)
        return "bad receipt kind";
      if (!valid_user_name(r.peer(), l)) return "bad peer name";
      if (r.up_to_id() == 0) return "receipt for no message";
      return {};
    }
    case pb::Envelope::kTyping:
      return valid_user_name(e.typing().recipient(), l) ? std::string() : "bad recipient name";
    case pb::Envelope::kHistoryRequest:
      return valid_user_name(e.history_request().peer(), l) ? std::string() : "bad peer name";
    case pb::Envelope::kConversationsRequest:
      return {};
    case pb::Envelope::kHistoryResponse:
    case pb::Envelope::kConversationsResponse:
      return "a response is not a request";
    case pb::Envelope::KIND_NOT_SET:
      break;
  }
  return "empty envelope";
}

std::string presence_problem(const pb::Presence& p, const limits& l) {
  if (p.state() != pb::PRESENCE_STATE_ONLINE && p.state() != pb::PRESENCE_STATE_AWAY &&
      p.state() != pb::PRESENCE_STATE_OFFLINE)
    return "bad presence state";
  if (p.status_text().size() > l.max_status_bytes) return "status text too long";
  return {};
}

}  // namespace natter::chat
