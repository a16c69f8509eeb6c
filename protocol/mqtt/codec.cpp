// MQTT 3.1.1 / 5.0 wire codec.
//
// Decoding: the fixed header is validated byte by byte as it arrives (flags first, then the
// Remaining Length, then maximum_packet_size), so a bad or oversized packet is refused
// before its body is buffered. The body is then parsed by a bounds-checked `reader` over
// exactly Remaining Length bytes; running off its end is a Malformed Packet, and so is
// anything left over once the packet's declared content is read. Checks return a
// reason_code (success = keep going) and only the outermost call builds an error_code.
//
// Which reason code: where the specification names one for a violation we use it (citing
// the statement, 5.0 numbering unless marked 3.1.1); where it only says MUST, we use
// Malformed Packet for what cannot be parsed as the format describes and Protocol Error
// for a parsed value the protocol does not allow (5.0 section 1.2 definitions, 4.13).
//
// Encoding: one pass with a counting sink measures the body (and each property block),
// the same code then writes with an appending sink, so encoded_size() is exact by
// construction. The encoder writes what it is given and does not validate, except that it
// never writes a property into a packet type that may not carry it, never writes a packet
// id or DUP on QoS 0, and always picks the shortest legal form.
#include "mqtt/codec.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <initializer_list>
#include <iterator>
#include <string_view>
#include <type_traits>

#include "mqtt/topic.hpp"
#include "mqtt/utf8.hpp"

namespace natter::mqtt {

static_assert(std::variant_size_v<packet> == 15);
static_assert(std::is_same_v<std::variant_alternative_t<0, packet>, connect>);
static_assert(std::is_same_v<std::variant_alternative_t<14, packet>, auth>);

packet_type type_of(const packet& p) noexcept {
  // The variant lists the packets in control packet type order, starting at CONNECT = 1.
  return static_cast<packet_type>(p.index() + 1);
}

namespace {

using u8 = std::uint8_t;
constexpr reason_code ok = reason_code::success;
constexpr reason_code malformed = reason_code::malformed_packet;
constexpr reason_code protocol_error = reason_code::protocol_error;

// ---------------------------------------------------------------------------------------
// Where a property may appear: one bit per packet type (1..15), bit 0 for Will Properties
// (type 0 is reserved, so the bit is free).

constexpr std::uint16_t bit(packet_type t) {
  return std::uint16_t(1u << unsigned(t));
}
constexpr std::uint16_t will_props = 1;

constexpr std::uint16_t p_connect = bit(packet_type::connect);
constexpr std::uint16_t p_connack = bit(packet_type::connack);
constexpr std::uint16_t p_publish = bit(packet_type::publish);
constexpr std::uint16_t p_puback = bit(packet_type::puback);
constexpr std::uint16_t p_pubrec = bit(packet_type::pubrec);
constexpr std::uint16_t p_pubrel = bit(packet_type::pubrel);
constexpr std::uint16_t p_pubcomp = bit(packet_type::pubcomp);
constexpr std::uint16_t p_subscribe = bit(packet_type::subscribe);
constexpr std::uint16_t p_suback = bit(packet_type::suback);
constexpr std::uint16_t p_unsubscribe = bit(packet_type::unsubscribe);
constexpr std::uint16_t p_unsuback = bit(packet_type::unsuback);
constexpr std::uint16_t p_disconnect = bit(packet_type::disconnect);
constexpr std::uint16_t p_auth = bit(packet_type::auth);

// 5.0 section 2.2.2.2, Table 2-4: which packets may carry each property identifier.
constexpr auto allowed_in = [] {
  std::array<std::uint16_t, 0x2B> t{};             // unknown identifiers: nowhere
  t[0x01] = p_publish | will_props;                // Payload Format Indicator
  t[0x02] = p_publish | will_props;                // Message Expiry Interval
  t[0x03] = p_publish | will_props;                // Content Type
  t[0x08] = p_publish | will_props;                // Response Topic
  t[0x09] = p_publish | will_props;                // Correlation Data
  t[0x0B] = p_publish | p_subscribe;               // Subscription Identifier
  t[0x11] = p_connect | p_connack | p_disconnect;  // Session Expiry Interval
  t[0x12] = p_connack;                             // Assigned Client Identifier
  t[0x13] = p_connack;                             // Server Keep Alive
  t[0x15] = p_connect | p_connack | p_auth;        // Authentication Method
  t[0x16] = p_connect | p_connack | p_auth;        // Authentication Data
  t[0x17] = p_connect;                             // Request Problem Information
  t[0x18] = will_props;                            // Will Delay Interval
  t[0x19] = p_connect;                             // Request Response Information
  t[0x1A] = p_connack;                             // Response Information
  t[0x1C] = p_connack | p_disconnect;              // Server Reference
  t[0x1F] = p_connack | p_puback | p_pubrec | p_pubrel | p_pubcomp | p_suback | p_unsuback |
            p_disconnect | p_auth;  // Reason String
  t[0x21] = p_connect | p_connack;  // Receive Maximum
  t[0x22] = p_connect | p_connack;  // Topic Alias Maximum
  t[0x23] = p_publish;              // Topic Alias
  t[0x24] = p_connack;              // Maximum QoS
  t[0x25] = p_connack;              // Retain Available
  t[0x26] = p_connect | p_connack | p_publish | will_props | p_puback | p_pubrec | p_pubrel |
            p_pubcomp | p_subscribe | p_suback | p_unsubscribe | p_unsuback | p_disconnect |
            p_auth;                 // User Property
  t[0x27] = p_connect | p_connack;  // Maximum Packet Size
  t[0x28] = p_connack;              // Wildcard Subscription Available
  t[0x29] = p_connack;              // Subscription Identifier Available
  t[0x2A] = p_connack;              // Shared Subscription Available
  return t;
}();

constexpr bool allowed(u8 id, std::uint16_t where) {
  return id < std::size(allowed_in) && (allowed_in[id] & where) != 0;
}

// ---------------------------------------------------------------------------------------
// Reason code sets per packet (5.0 sections 3.2.2.2, 3.4.2.1 ... 3.15.2.1). A code outside
// the packet's table breaks "MUST use one of the ... Reason Codes" (e.g. [MQTT-3.4.2-1]);
// the packet parses, the value is not allowed: Protocol Error.

struct code_set {
  std::uint64_t w[4] = {};
  constexpr code_set(std::initializer_list<u8> codes) {
    for (const u8 c : codes) w[c >> 6] |= std::uint64_t{1} << (c & 63);
  }
  constexpr bool has(u8 c) const { return ((w[c >> 6] >> (c & 63)) & 1) != 0; }
};

constexpr code_set connack_codes{0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr code_set puback_codes{0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};  // & PUBREC
constexpr code_set pubrel_codes{0x00, 0x92};                                            // & PUBCOMP
constexpr code_set suback_codes{0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr code_set suback_v311_codes{0x00, 0x01, 0x02, 0x80};  // 3.1.1 [MQTT-3.9.3-2]
constexpr code_set unsuback_codes{0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr code_set disconnect_codes{0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                    0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                    0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr code_set auth_codes{0x00, 0x18, 0x19};

// ---------------------------------------------------------------------------------------
// Bounds-checked cursor over one packet's body. Every read reports whether the bytes were
// there; callers turn "not there" into Malformed Packet.

class reader {
 public:
  reader(const u8* p, const u8* end) noexcept : p_(p), end_(end) {}

  std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  bool empty() const noexcept { return p_ == end_; }

  bool byte(u8& v) noexcept {
    if (p_ == end_) return false;
    v = *p_++;
    return true;
  }
  bool u16(std::uint16_t& v) noexcept {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>((p_[0] << 8) | p_[1]);
    p_ += 2;
    return true;
  }
  bool u32(std::uint32_t& v) noexcept {
    if (left() < 4) return false;
    v = (std::uint32_t{p_[0]} << 24) | (std::uint32_t{p_[1]} << 16) | (std::uint32_t{p_[2]} << 8) |
        std::uint32_t{p_[3]};
    p_ += 4;
    return true;
  }
  // Variable Byte Integer (1.5.5): at most 4 bytes, and in its shortest form
  // [MQTT-1.5.5-1]; anything else is malformed, reported as false like a truncation.
  bool varint(std::uint32_t& v) noexcept {
    std::uint32_t value = 0;
    for (unsigned i = 0; i < 4; ++i) {
      if (p_ == end_) return false;
      const u8 b = *p_++;
      value |= std::uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        if (b == 0 && i > 0) return false;  // a trailing zero group: not the minimum
        v = value;
        return true;
      }
    }
    return false;
  }
  bool bytes(std::size_t n, const u8*& out) noexcept {
    if (left() < n) return false;
    out = p_;
    p_ += n;
    return true;
  }
  // A length-prefixed string or binary field (1.5.4, 1.5.6), as a view into the input.
  bool prefixed(std::string_view& out) noexcept {
    std::uint16_t n;
    const u8* p;
    if (!u16(n) || !bytes(n, p)) return false;
    out = {reinterpret_cast<const char*>(p), n};
    return true;
  }
  // Splits off the next n bytes (caller checked n <= left()).
  reader take(std::size_t n) noexcept {
    reader r(p_, p_ + n);
    p_ += n;
    return r;
  }
  std::string_view rest() noexcept {
    std::string_view s(reinterpret_cast<const char*>(p_), left());
    p_ = end_;
    return s;
  }

 private:
  const u8* p_;
  const u8* end_;
};

bool utf8_string_ok(std::string_view s) noexcept {
  return detail::utf8_well_formed(reinterpret_cast<const u8*>(s.data()), s.size(), false);
}

// A UTF-8 Encoded String field: ill-formed UTF-8 or U+0000 is a Malformed Packet
// (5.0 [MQTT-1.5.4-1], [MQTT-1.5.4-2]; 3.1.1 [MQTT-1.5.3-1], [MQTT-1.5.3-2]).
reason_code read_utf8(reader& r, std::string& out) {
  std::string_view s;
  if (!r.prefixed(s) || !utf8_string_ok(s)) return malformed;
  out.assign(s.data(), s.size());
  return ok;
}

reason_code read_binary(reader& r, std::string& out) {
  std::string_view s;
  if (!r.prefixed(s)) return malformed;
  out.assign(s.data(), s.size());
  return ok;
}

// ---------------------------------------------------------------------------------------
// Properties (5.0 section 2.2.2). Each rule below is from the property's own section
// (3.1.2.11, 3.2.2.3, 3.3.2.3 ...): "It is a Protocol Error to include X more than once"
// and the value ranges it gives.

reason_code once_byte(reader& r, std::optional<u8>& field, u8 max) {
  if (field) return protocol_error;  // duplicate
  u8 v;
  if (!r.byte(v)) return malformed;
  if (v > max) return protocol_error;  // e.g. Request Problem Information other than 0/1
  field = v;
  return ok;
}

reason_code once_u16(reader& r, std::optional<std::uint16_t>& field, bool nonzero) {
  if (field) return protocol_error;
  std::uint16_t v;
  if (!r.u16(v)) return malformed;
  if (nonzero && v == 0) return protocol_error;
  field = v;
  return ok;
}

reason_code once_u32(reader& r, std::optional<std::uint32_t>& field, bool nonzero) {
  if (field) return protocol_error;
  std::uint32_t v;
  if (!r.u32(v)) return malformed;
  if (nonzero && v == 0) return protocol_error;
  field = v;
  return ok;
}

reason_code once_utf8(reader& r, std::optional<std::string>& field) {
  if (field) return protocol_error;
  return read_utf8(r, field.emplace());
}

reason_code once_binary(reader& r, std::optional<std::string>& field) {
  if (field) return protocol_error;
  return read_binary(r, field.emplace());
}

reason_code read_property(reader& r, u8 id, std::uint16_t where, properties& p) {
  switch (id) {
    case 0x01:
      return once_byte(r, p.payload_format_indicator, 1);
    case 0x02:
      return once_u32(r, p.message_expiry_interval, false);
    case 0x03:
      return once_utf8(r, p.content_type);
    case 0x08: {
      if (auto e = once_utf8(r, p.response_topic); e != ok) return e;
      // [MQTT-3.3.2-14] (and 3.1.3.2.5 for the will): a topic name, no wildcards.
      return is_valid_topic_name(*p.response_topic) ? ok : protocol_error;
    }
    case 0x09:
      return once_binary(r, p.correlation_data);
    case 0x0B: {
      std::uint32_t v;
      if (!r.varint(v)) return malformed;
      if (v == 0) return protocol_error;  // 3.3.2.3.8 / 3.8.2.1.2: 1 to 268,435,455
      // Repeatable in PUBLISH (one per matching subscription, [MQTT-3.3.4-4]); once in
      // SUBSCRIBE (3.8.2.1.2).
      if (where == p_subscribe && !p.subscription_identifiers.empty()) return protocol_error;
      p.subscription_identifiers.push_back(v);
      return ok;
    }
    case 0x11:
      return once_u32(r, p.session_expiry_interval, false);
    case 0x12:
      return once_utf8(r, p.assigned_client_identifier);
    case 0x13:
      return once_u16(r, p.server_keep_alive, false);
    case 0x15:
      return once_utf8(r, p.authentication_method);
    case 0x16:
      return once_binary(r, p.authentication_data);
    case 0x17:
      return once_byte(r, p.request_problem_information, 1);
    case 0x18:
      return once_u32(r, p.will_delay_interval, false);
    case 0x19:
      return once_byte(r, p.request_response_information, 1);
    case 0x1A:
      return once_utf8(r, p.response_information);
    case 0x1C:
      return once_utf8(r, p.server_reference);
    case 0x1F:
      return once_utf8(r, p.reason_string);
    case 0x21:
      return once_u16(r, p.receive_maximum, true);  // "a value of 0" is a PE
    case 0x22:
      return once_u16(r, p.topic_alias_maximum, false);
    // [MQTT-3.3.2-8] "A Topic Alias of 0 is not permitted."
    case 0x23:
      return once_u16(r, p.topic_alias, true);
    case 0x24:
      return once_byte(r, p.maximum_qos, 1);  // 3.2.2.3.4: 0 or 1 only
    case 0x25:
      return once_byte(r, p.retain_available, 1);
    case 0x26: {
      auto& kv = p.user_properties.emplace_back();
      if (auto e = read_utf8(r, kv.first); e != ok) return e;
      return read_utf8(r, kv.second);
    }
    case 0x27:
      return once_u32(r, p.maximum_packet_size, true);  // 0 is a PE
    case 0x28:
      return once_byte(r, p.wildcard_subscription_available, 1);
    case 0x29:
      return once_byte(r, p.subscription_identifier_available, 1);
    case 0x2A:
      return once_byte(r, p.shared_subscription_available, 1);
    default:
      return malformed;  // unreachable: read_properties checked `allowed`
  }
}

// The Property Length and the properties it covers.
reason_code read_properties(reader& r, std::uint16_t where, properties& p) {
  std::uint32_t len;
  if (!r.varint(len) || len > r.left()) return malformed;  // must fit the packet
  reader pr = r.take(len);
  while (!pr.empty()) {
    // The identifier is a Variable Byte Integer, but all defined ones are < 0x80, so a
    // first byte >= 0x80 can only start an unknown identifier.
    u8 id;
    pr.byte(id);
    // 2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its
    // packet type, or contains a value not of the specified data type, is a Malformed
    // Packet." Unknown identifiers included.
    if (!allowed(id, where)) return malformed;
    if (auto e = read_property(pr, id, where, p); e != ok) return e;
  }
  return ok;
}

// ---------------------------------------------------------------------------------------
// Packet bodies. `r` covers exactly the Remaining Length; decode_body checks that each one
// consumed all of it.

reason_code decode_connect(reader& r, connect& c) {
  std::string_view name;
  u8 level;
  if (!r.prefixed(name) || !r.byte(level)) return malformed;
  if (name != "MQTT") {
    // MQTT 3.1 ("MQIsdp", level 3) is a version we do not speak rather than a stranger:
    // let the session answer with CONNACK 0x01 like any unsupported level.
    if (name == "MQIsdp") return reason_code::unsupported_protocol_version;
    return protocol_error;  // [MQTT-3.1.2-1] not MQTT at all: close without CONNACK
  }
  // [MQTT-3.1.2-2] (both versions). The rest of the packet is not parsed: its layout
  // belongs to a version we do not know.
  if (level != 4 && level != 5) return reason_code::unsupported_protocol_version;
  const version v = static_cast<version>(level);
  c.protocol_version = v;

  u8 flags;
  if (!r.byte(flags) || !r.u16(c.keep_alive)) return malformed;
  if (flags & 0x01) return malformed;  // [MQTT-3.1.2-3] reserved flag
  c.clean_start = (flags & 0x02) != 0;
  const bool will_flag = (flags & 0x04) != 0;
  const u8 will_qos = (flags >> 3) & 0x03;
  const bool will_retain = (flags & 0x20) != 0;
  const bool password_flag = (flags & 0x40) != 0;
  const bool username_flag = (flags & 0x80) != 0;
  if (will_flag) {
    // 5.0 [MQTT-3.1.2-12], 3.1.1 [MQTT-3.1.2-14]: "A value of 3 is a Malformed Packet".
    if (will_qos == 3) return malformed;
  } else {
    // 5.0 [MQTT-3.1.2-11], [MQTT-3.1.2-13]; 3.1.1 [MQTT-3.1.2-13], [MQTT-3.1.2-15].
    if (will_qos != 0 || will_retain) return malformed;
  }
  // 3.1.1 [MQTT-3.1.2-22]: no password without a user name. 5.0 lifted this (3.1.2.9).
  if (v == version::v311 && password_flag && !username_flag) return protocol_error;

  if (v == version::v5) {
    if (auto e = read_properties(r, p_connect, c.props); e != ok) return e;
    // 3.1.2.11.10: "It is a Protocol Error to include Authentication Data if there is no
    // Authentication Method."
    if (c.props.authentication_data && !c.props.authentication_method) return protocol_error;
  }

  // [MQTT-3.1.3-4] (3.1.1 [MQTT-3.1.3-4]): the Client Identifier is a UTF-8 string. An
  // empty one is legal here; whether to accept it ([MQTT-3.1.3-6], 3.1.1 [MQTT-3.1.3-8])
  // is the session's decision.
  if (auto e = read_utf8(r, c.client_id); e != ok) return e;

  if (will_flag) {
    auto& w = c.will.emplace();
    w.qos = static_cast<mqtt::qos>(will_qos);
    w.retain = will_retain;
    if (v == version::v5) {
      if (auto e = read_properties(r, will_props, w.props); e != ok) return e;
    }
    if (auto e = read_utf8(r, w.topic); e != ok) return e;  // [MQTT-3.1.3-11]
    // The Will Topic is a topic name: no wildcards, not empty. 5.0 lets CONNACK say 0x90
    // "Topic Name invalid" for it.
    if (!is_valid_topic_name(w.topic)) return reason_code::topic_name_invalid;
    if (auto e = read_binary(r, w.payload); e != ok) return e;
    // 3.1.3.2.3: the Server MAY check the format and answer 0x99.
    if (w.props.payload_format_indicator == 1 &&
        !detail::utf8_well_formed(reinterpret_cast<const u8*>(w.payload.data()), w.payload.size(),
                                  true))
      return reason_code::payload_format_invalid;
  }
  // [MQTT-3.1.2-17], [MQTT-3.1.2-19] (3.1.1 [MQTT-3.1.2-19], [MQTT-3.1.2-21]): present
  // exactly when flagged; a missing one runs off the end (malformed), an unflagged one is
  // left over (malformed).
  if (username_flag) {
    if (auto e = read_utf8(r, c.username.emplace()); e != ok) return e;  // [MQTT-3.1.3-12]
  }
  if (password_flag) {
    if (auto e = read_binary(r, c.password.emplace()); e != ok) return e;
  }
  return ok;
}

reason_code decode_connack(reader& r, version v, connack& c) {
  u8 flags;
  if (!r.byte(flags) || !r.byte(c.reason)) return malformed;
  if (flags & 0xFE) return malformed;  // [MQTT-3.2.2-1] reserved bits 7-1
  c.session_present = (flags & 0x01) != 0;
  if (v == version::v311) {
    if (c.reason > 5) return protocol_error;  // 3.1.1 3.2.2.3: 6-255 are reserved
  } else {
    if (!connack_codes.has(c.reason)) return protocol_error;  // [MQTT-3.2.2-8]
    if (auto e = read_properties(r, p_connack, c.props); e != ok) return e;
  }
  // 5.0 [MQTT-3.2.2-6], 3.1.1 [MQTT-3.2.2-4]: a refusal never has a session.
  if (c.session_present && c.reason != 0) return protocol_error;
  return ok;
}

reason_code decode_publish(reader& r, u8 flags, version v, publish& p) {
  // QoS 3 and DUP on QoS 0 were refused with the fixed header.
  p.dup = (flags & 0x08) != 0;
  p.qos = static_cast<mqtt::qos>((flags >> 1) & 0x03);
  p.retain = (flags & 0x01) != 0;
  // [MQTT-3.3.2-1]: a UTF-8 string.
  if (auto e = read_utf8(r, p.topic); e != ok) return e;
  if (p.qos != qos::at_most_once) {
    if (!r.u16(p.packet_id)) return malformed;
    // 5.0 [MQTT-2.2.1-3], [MQTT-2.2.1-4]; 3.1.1 [MQTT-2.3.1-1]: non-zero.
    if (p.packet_id == 0) return protocol_error;
  }
  if (v == version::v5) {
    if (auto e = read_properties(r, p_publish, p.props); e != ok) return e;
  }
  if (p.topic.empty()) {
    // 5.0 3.3.2.3.4: "It is a Protocol Error if the Topic Name is zero length and there is
    // no Topic Alias." 3.1.1 [MQTT-4.7.3-1]: topic names are at least one character.
    if (v == version::v311) return reason_code::topic_name_invalid;
    if (!p.props.topic_alias) return protocol_error;
  } else if (!is_valid_topic_name(p.topic)) {
    return reason_code::topic_name_invalid;  // [MQTT-3.3.2-2] wildcards
  }
  const std::string_view payload = r.rest();
  // 3.3.2.3.2: a receiver MAY validate a payload declared UTF-8 and answer 0x99. U+0000 is
  // well-formed UTF-8 character data, so it is allowed here.
  if (p.props.payload_format_indicator == 1 &&
      !detail::utf8_well_formed(reinterpret_cast<const u8*>(payload.data()), payload.size(), true))
    return reason_code::payload_format_invalid;
  p.payload.assign(payload.data(), payload.size());
  return ok;
}

template <packet_type Type>
reason_code decode_ack(reader& r, version v, basic_ack<Type>& a) {
  if (!r.u16(a.packet_id)) return malformed;
  if (a.packet_id == 0) return protocol_error;     // ids are never 0 (2.2.1)
  if (v == version::v311 || r.empty()) return ok;  // 3.1.1: exactly 2 bytes
  // 5.0 3.4.2.1: Remaining Length 2 means Success, no properties; 3.4.2.2.1: less than 4
  // means no Property Length.
  u8 rc;
  r.byte(rc);
  constexpr bool pub_ack_or_rec = Type == packet_type::puback || Type == packet_type::pubrec;
  if (!(pub_ack_or_rec ? puback_codes : pubrel_codes).has(rc)) return protocol_error;
  a.reason = static_cast<reason_code>(rc);
  if (r.empty()) return ok;
  return read_properties(r, bit(Type), a.props);
}

reason_code decode_subscribe(reader& r, version v, subscribe& s) {
  if (!r.u16(s.packet_id)) return malformed;
  if (s.packet_id == 0) return protocol_error;  // [MQTT-2.2.1-3], 3.1.1 [MQTT-2.3.1-1]
  if (v == version::v5) {
    if (auto e = read_properties(r, p_subscribe, s.props); e != ok) return e;
  }
  while (!r.empty()) {
    auto& sub = s.subscriptions.emplace_back();
    if (auto e = read_utf8(r, sub.filter); e != ok) return e;  // [MQTT-3.8.3-1]
    u8 o;
    if (!r.byte(o)) return malformed;
    if (v == version::v311) {
      // 3.1.1 [MQTT-3.8.3-4]: reserved bits 7-2 set or QoS 3 is malformed.
      if ((o & 0xFC) != 0 || (o & 0x03) == 3) return malformed;
    } else {
      if (o & 0xC0) return malformed;                     // [MQTT-3.8.3-5] reserved bits 7-6
      if ((o & 0x03) == 3) return protocol_error;         // 3.8.3.1: Maximum QoS 3 is a PE
      if (((o >> 4) & 0x03) == 3) return protocol_error;  // 3.8.3.1: Retain Handling 3
    }
    sub.max_qos = static_cast<qos>(o & 0x03);
    sub.no_local = (o & 0x04) != 0;
    sub.retain_as_published = (o & 0x08) != 0;
    sub.retain_handling = static_cast<u8>((o >> 4) & 0x03);
    // A filter that breaks the syntax of 4.7.1 / 4.8.2 is not a filter: Malformed Packet,
    // as mosquitto answers. 5.0's 0x8F "Topic Filter invalid" in SUBACK is for filters
    // that are "correctly formed but not accepted", the session's business.
    if (!is_valid_topic_filter(sub.filter)) return malformed;
    // [MQTT-3.8.3-4] No Local on a shared subscription.
    if (sub.no_local && parse_shared_filter(sub.filter)) return protocol_error;
  }
  // 5.0 [MQTT-3.8.3-2] ("no Payload is a Protocol Error"), 3.1.1 [MQTT-3.8.3-3].
  if (s.subscriptions.empty()) return protocol_error;
  return ok;
}

reason_code decode_suback(reader& r, version v, suback& s) {
  if (!r.u16(s.packet_id)) return malformed;
  if (s.packet_id == 0) return protocol_error;
  if (v == version::v5) {
    if (auto e = read_properties(r, p_suback, s.props); e != ok) return e;
  }
  // One code per filter of the SUBSCRIBE, which had at least one ([MQTT-3.9.3-2]).
  if (r.empty()) return protocol_error;
  const std::string_view codes = r.rest();
  const code_set& valid = v == version::v5 ? suback_codes : suback_v311_codes;
  for (const char c : codes)
    if (!valid.has(static_cast<u8>(c))) return protocol_error;
  s.reasons.assign(codes.begin(), codes.end());
  return ok;
}

reason_code decode_unsubscribe(reader& r, version v, unsubscribe& u) {
  if (!r.u16(u.packet_id)) return malformed;
  if (u.packet_id == 0) return protocol_error;
  if (v == version::v5) {
    if (auto e = read_properties(r, p_unsubscribe, u.props); e != ok) return e;
  }
  while (!r.empty()) {
    auto& f = u.filters.emplace_back();
    if (auto e = read_utf8(r, f); e != ok) return e;  // [MQTT-3.10.3-1]
    if (!is_valid_topic_filter(f)) return malformed;  // as for SUBSCRIBE
  }
  // 5.0 [MQTT-3.10.3-2] ("no Payload is a Protocol Error"), 3.1.1 [MQTT-3.10.3-2].
  if (u.filters.empty()) return protocol_error;
  return ok;
}

reason_code decode_unsuback(reader& r, version v, unsuback& u) {
  if (!r.u16(u.packet_id)) return malformed;
  if (u.packet_id == 0) return protocol_error;
  if (v == version::v311) return ok;  // no payload in 3.1.1
  if (auto e = read_properties(r, p_unsuback, u.props); e != ok) return e;
  if (r.empty()) return protocol_error;  // one code per filter [MQTT-3.11.3-2]
  const std::string_view codes = r.rest();
  u.reasons.reserve(codes.size());
  for (const char c : codes) {
    const auto rc = static_cast<u8>(c);
    if (!unsuback_codes.has(rc)) return protocol_error;
    u.reasons.push_back(static_cast<reason_code>(rc));
  }
  return ok;
}

reason_code decode_disconnect(reader& r, version v, disconnect& d) {
  if (v == version::v311 || r.empty()) return ok;  // 3.14.2.1: length 0 = Normal
  u8 rc;
  r.byte(rc);
  if (!disconnect_codes.has(rc)) return protocol_error;  // [MQTT-3.14.2-1]
  d.reason = static_cast<reason_code>(rc);
  if (r.empty()) return ok;  // 3.14.2.2.1: "less than 2 ... a value of 0 is used"
  return read_properties(r, p_disconnect, d.props);
}

reason_code decode_auth(reader& r, auth& a) {
  // 3.15.2.1: Remaining Length 0 means Success and no properties. Unlike DISCONNECT there
  // is no one-byte form: a reason code must be followed by a Property Length.
  if (r.empty()) return ok;
  u8 rc;
  r.byte(rc);
  if (!auth_codes.has(rc)) return protocol_error;  // [MQTT-3.15.2-1]
  a.reason = static_cast<reason_code>(rc);
  return read_properties(r, p_auth, a.props);
}

// Fixed header byte 1, checked as soon as it arrives.
reason_code check_fixed_header(u8 b0, version v) {
  const unsigned type = b0 >> 4;
  const unsigned flags = b0 & 0x0F;
  switch (type) {
    case 0:
      return malformed;  // reserved ("Forbidden")
    case 3:
      if ((flags & 0x06) == 0x06) return malformed;  // [MQTT-3.3.1-4] QoS 3
      // [MQTT-3.3.1-2] (both versions): DUP is 0 for QoS 0. Neither version names the
      // receiver's reaction; the fixed header is not in the described format: malformed.
      if ((flags & 0x08) && (flags & 0x06) == 0) return malformed;
      return ok;
    case 6:   // PUBREL [MQTT-3.6.1-1]
    case 8:   // SUBSCRIBE [MQTT-3.8.1-1]
    case 10:  // UNSUBSCRIBE [MQTT-3.10.1-1]
      return flags == 0x02 ? ok : malformed;
    case 15:
      if (v == version::v311) return malformed;  // reserved in 3.1.1 (2.2.1)
      return flags == 0 ? ok : malformed;        // [MQTT-3.15.1-1]
    default:
      // 5.0 [MQTT-2.1.3-1], 3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2].
      return flags == 0 ? ok : malformed;
  }
}

// Bytes after the packet's declared content (e.g. a PINGREQ with Remaining Length 1, a
// 3.1.1 PUBACK of 3 bytes, a property block shorter than what follows it).
reason_code finish(const reader& r, reason_code e) {
  return e != ok ? e : r.empty() ? ok : malformed;
}

// Decodes straight into the result that is returned (NRVO): only the empty packet is moved
// in, never a filled one out, and no default CONNECT is built just to be replaced.
template <class T, class Body>
result<decoded> decode_as(std::size_t size, reader& r, Body body) {
  result<decoded> out(decoded{packet(std::in_place_type<T>), size});
  if (auto e = finish(r, body(*std::get_if<T>(&out->pkt))); e != ok) return e;
  return out;
}

result<decoded> decode_body(u8 b0, reader& r, version v, std::size_t size) {
  switch (b0 >> 4) {
    case 1:
      return decode_as<connect>(size, r, [&](connect& p) { return decode_connect(r, p); });
    case 2:
      return decode_as<connack>(size, r, [&](connack& p) { return decode_connack(r, v, p); });
    case 3:
      return decode_as<publish>(size, r,
                                [&](publish& p) { return decode_publish(r, b0 & 0x0F, v, p); });
    case 4:
      return decode_as<puback>(size, r, [&](puback& p) { return decode_ack(r, v, p); });
    case 5:
      return decode_as<pubrec>(size, r, [&](pubrec& p) { return decode_ack(r, v, p); });
    case 6:
      return decode_as<pubrel>(size, r, [&](pubrel& p) { return decode_ack(r, v, p); });
    case 7:
      return decode_as<pubcomp>(size, r, [&](pubcomp& p) { return decode_ack(r, v, p); });
    case 8:
      return decode_as<subscribe>(size, r, [&](subscribe& p) { return decode_subscribe(r, v, p); });
    case 9:
      return decode_as<suback>(size, r, [&](suback& p) { return decode_suback(r, v, p); });
    case 10:
      return decode_as<unsubscribe>(size, r,
                                    [&](unsubscribe& p) { return decode_unsubscribe(r, v, p); });
    case 11:
      return decode_as<unsuback>(size, r, [&](unsuback& p) { return decode_unsuback(r, v, p); });
    case 12:
      return decode_as<pingreq>(size, r, [](pingreq&) { return ok; });
    case 13:
      return decode_as<pingresp>(size, r, [](pingresp&) { return ok; });
    case 14:
      return decode_as<disconnect>(size, r,
                                   [&](disconnect& p) { return decode_disconnect(r, v, p); });
    case 15:
      return decode_as<auth>(size, r, [&](auth& p) { return decode_auth(r, p); });
    default:
      return reason_code::malformed_packet;  // type 0, refused earlier
  }
}

// ---------------------------------------------------------------------------------------
// Encoding.

constexpr std::size_t varint_size(std::uint32_t v) {
  return v < 128u ? 1 : v < 16'384u ? 2 : v < 2'097'152u ? 3 : v < 268'435'456u ? 4 : 5;
}

// Property Lengths measured by the size pass, replayed by the write pass (a CONNECT has two
// property blocks, every other packet at most one).
struct props_lengths {
  std::uint32_t len[2] = {};
  unsigned count = 0;
};

// Counts bytes.
struct size_sink {
  std::size_t n = 0;
  props_lengths* lengths;
  void byte(u8) { ++n; }
  void u16(std::uint16_t) { n += 2; }
  void u32(std::uint32_t) { n += 4; }
  void varint(std::uint32_t v) { n += varint_size(v); }
  void bytes(std::string_view s) { n += s.size(); }
};

// Appends to the vector encode() reserved room in.
struct vector_sink {
  std::vector<u8>& out;
  props_lengths* lengths;
  unsigned next = 0;
  void byte(u8 b) { out.push_back(b); }
  void u16(std::uint16_t v) {
    out.push_back(static_cast<u8>(v >> 8));
    out.push_back(static_cast<u8>(v));
  }
  void u32(std::uint32_t v) {
    const u8 b[4] = {static_cast<u8>(v >> 24), static_cast<u8>(v >> 16), static_cast<u8>(v >> 8),
                     static_cast<u8>(v)};
    out.insert(out.end(), b, b + 4);
  }
  void varint(std::uint32_t v) {
    do {
      u8 b = v & 0x7F;
      v >>= 7;
      if (v) b |= 0x80;
      out.push_back(b);
    } while (v);
  }
  void bytes(std::string_view s) {
    const auto* p = reinterpret_cast<const u8*>(s.data());
    out.insert(out.end(), p, p + s.size());
  }
};

// Strings and binary data longer than 65,535 bytes cannot be encoded (1.5.4): a caller
// precondition, like the Remaining Length limit.
template <class S>
void put_string(S& s, std::string_view v) {
  s.u16(static_cast<std::uint16_t>(v.size()));
  s.bytes(v);
}

// `Where` is a compile-time packet kind, so only the properties that kind may carry are
// even looked at (8 of 27 for PUBLISH).
template <std::uint16_t Where, class S>
void put_prop_entries(S& s, const properties& p) {
  constexpr auto may = [](u8 id) { return allowed(id, Where); };
  auto byte_prop = [&](u8 id, const std::optional<u8>& v) {
    if (v) {
      s.byte(id);
      s.byte(*v);
    }
  };
  auto u16_prop = [&](u8 id, const std::optional<std::uint16_t>& v) {
    if (v) {
      s.byte(id);
      s.u16(*v);
    }
  };
  auto u32_prop = [&](u8 id, const std::optional<std::uint32_t>& v) {
    if (v) {
      s.byte(id);
      s.u32(*v);
    }
  };
  auto string_prop = [&](u8 id, const std::optional<std::string>& v) {
    if (v) {
      s.byte(id);
      put_string(s, *v);
    }
  };
  if constexpr (may(0x01)) byte_prop(0x01, p.payload_format_indicator);
  if constexpr (may(0x02)) u32_prop(0x02, p.message_expiry_interval);
  if constexpr (may(0x03)) string_prop(0x03, p.content_type);
  if constexpr (may(0x08)) string_prop(0x08, p.response_topic);
  if constexpr (may(0x09)) string_prop(0x09, p.correlation_data);
  if constexpr (may(0x0B)) {
    for (const std::uint32_t id : p.subscription_identifiers) {
      s.byte(0x0B);
      s.varint(id);
      if constexpr (Where == p_subscribe) break;  // SUBSCRIBE carries at most one
    }
  }
  if constexpr (may(0x11)) u32_prop(0x11, p.session_expiry_interval);
  if constexpr (may(0x12)) string_prop(0x12, p.assigned_client_identifier);
  if constexpr (may(0x13)) u16_prop(0x13, p.server_keep_alive);
  if constexpr (may(0x15)) string_prop(0x15, p.authentication_method);
  if constexpr (may(0x16)) string_prop(0x16, p.authentication_data);
  if constexpr (may(0x17)) byte_prop(0x17, p.request_problem_information);
  if constexpr (may(0x18)) u32_prop(0x18, p.will_delay_interval);
  if constexpr (may(0x19)) byte_prop(0x19, p.request_response_information);
  if constexpr (may(0x1A)) string_prop(0x1A, p.response_information);
  if constexpr (may(0x1C)) string_prop(0x1C, p.server_reference);
  if constexpr (may(0x1F)) string_prop(0x1F, p.reason_string);
  if constexpr (may(0x21)) u16_prop(0x21, p.receive_maximum);
  if constexpr (may(0x22)) u16_prop(0x22, p.topic_alias_maximum);
  if constexpr (may(0x23)) u16_prop(0x23, p.topic_alias);
  if constexpr (may(0x24)) byte_prop(0x24, p.maximum_qos);
  if constexpr (may(0x25)) byte_prop(0x25, p.retain_available);
  if constexpr (may(0x26)) {
    for (const auto& [key, value] : p.user_properties) {
      s.byte(0x26);
      put_string(s, key);
      put_string(s, value);
    }
  }
  if constexpr (may(0x27)) u32_prop(0x27, p.maximum_packet_size);
  if constexpr (may(0x28)) byte_prop(0x28, p.wildcard_subscription_available);
  if constexpr (may(0x29)) byte_prop(0x29, p.subscription_identifier_available);
  if constexpr (may(0x2A)) byte_prop(0x2A, p.shared_subscription_available);
}

template <std::uint16_t Where>
std::uint32_t measure_props(const properties& p) {
  size_sink n{0, nullptr};
  put_prop_entries<Where>(n, p);
  return static_cast<std::uint32_t>(n.n);
}

// The Property Length of the next property block: measured once by the size pass and
// recorded; the write pass replays it.
template <std::uint16_t Where>
std::uint32_t props_length(size_sink& s, const properties& p) {
  const std::uint32_t len = measure_props<Where>(p);
  s.lengths->len[s.lengths->count++] = len;
  return len;
}
template <std::uint16_t Where>
std::uint32_t props_length(vector_sink& s, const properties&) {
  return s.lengths->len[s.next++];
}

// The properties (without their length), or just their size when counting.
template <std::uint16_t Where, class S>
void put_measured_props(S& s, const properties& p, std::uint32_t len) {
  if constexpr (std::is_same_v<S, size_sink>) {
    s.n += len;  // already measured
  } else {
    put_prop_entries<Where>(s, p);
  }
}

// A Property Length and its properties.
template <std::uint16_t Where, class S>
void put_props(S& s, const properties& p) {
  const std::uint32_t len = props_length<Where>(s, p);
  s.varint(len);
  put_measured_props<Where>(s, p, len);
}

// The position of T in the packet variant, without constructing one: clang 14 with
// libstdc++ 12 cannot build a std::variant of std::string members in a constant expression.
template <class T, class Variant>
struct alternative_index;
template <class T, class... Ts>
struct alternative_index<T, std::variant<Ts...>> {
  static constexpr std::size_t value = [] {
    std::size_t i = 0;
    (void)((std::is_same_v<T, Ts> ? false : (++i, true)) && ...);  // stops at T
    return i;
  }();
};
static_assert(alternative_index<connect, packet>::value == 0);
static_assert(alternative_index<pubrel, packet>::value == 5);
static_assert(alternative_index<auth, packet>::value == 14);

template <class T>
u8 first_byte(const T&) {
  constexpr auto type = static_cast<u8>(alternative_index<T, packet>::value + 1);
  constexpr bool flags_0010 = type == 6 || type == 8 || type == 10;  // [MQTT-2.1.3-1]
  return static_cast<u8>(type << 4 | (flags_0010 ? 0x02 : 0x00));
}
u8 first_byte(const publish& pub) {
  const bool qos0 = pub.qos == qos::at_most_once;
  return static_cast<u8>(0x30 | (pub.dup && !qos0 ? 0x08 : 0) | (static_cast<u8>(pub.qos) << 1) |
                         (pub.retain ? 0x01 : 0));
}

template <class S>
void put_body(S& s, const connect& c, version) {
  // A CONNECT is written in the version it names, as decode() reads it.
  const version v = c.protocol_version;
  put_string(s, c.protocol_name);
  s.byte(static_cast<u8>(v));
  u8 flags = c.clean_start ? 0x02 : 0x00;
  if (c.will) {
    flags |= static_cast<u8>(0x04 | (static_cast<u8>(c.will->qos) << 3) |
                             (c.will->retain ? 0x20 : 0x00));
  }
  if (c.password) flags |= 0x40;
  if (c.username) flags |= 0x80;
  s.byte(flags);
  s.u16(c.keep_alive);
  if (v == version::v5) put_props<p_connect>(s, c.props);
  put_string(s, c.client_id);
  if (c.will) {
    if (v == version::v5) put_props<will_props>(s, c.will->props);
    put_string(s, c.will->topic);
    put_string(s, c.will->payload);
  }
  if (c.username) put_string(s, *c.username);
  if (c.password) put_string(s, *c.password);
}

template <class S>
void put_body(S& s, const connack& c, version v) {
  s.byte(c.session_present ? 0x01 : 0x00);
  s.byte(c.reason);
  if (v == version::v5) put_props<p_connack>(s, c.props);
}

template <class S>
void put_body(S& s, const publish& p, version v) {
  put_string(s, p.topic);
  if (p.qos != qos::at_most_once) s.u16(p.packet_id);  // [MQTT-2.2.1-2]
  if (v == version::v5) put_props<p_publish>(s, p.props);
  s.bytes(p.payload);
}

// Reason code and properties of the 5.0 packets that may be shortened: nothing at all for
// Success/Normal without properties; just the reason code when there are no properties and
// the packet has that form (`may_omit_props`: the acks and DISCONNECT, not AUTH).
template <std::uint16_t Where, class S>
void put_reason_and_props(S& s, reason_code rc, const properties& p, bool may_omit_props) {
  const std::uint32_t len = props_length<Where>(s, p);
  if (len == 0 && rc == reason_code::success) return;
  s.byte(static_cast<u8>(rc));
  if (len == 0 && may_omit_props) return;
  s.varint(len);
  put_measured_props<Where>(s, p, len);
}

template <class S, packet_type Type>
void put_body(S& s, const basic_ack<Type>& a, version v) {
  s.u16(a.packet_id);
  // 3.4.2.1 / 3.4.2.2.1 (and 3.5-3.7): length 2 for Success without properties, 3 when
  // only the reason code is needed.
  if (v == version::v5) put_reason_and_props<bit(Type)>(s, a.reason, a.props, true);
}

template <class S>
void put_body(S& s, const subscribe& p, version v) {
  s.u16(p.packet_id);
  if (v == version::v5) put_props<p_subscribe>(s, p.props);
  for (const auto& sub : p.subscriptions) {
    put_string(s, sub.filter);
    u8 o = static_cast<u8>(sub.max_qos);
    if (v == version::v5) {
      o |= static_cast<u8>((sub.no_local ? 0x04 : 0) | (sub.retain_as_published ? 0x08 : 0) |
                           ((sub.retain_handling & 0x03) << 4));
    }
    s.byte(o);
  }
}

template <class S>
void put_body(S& s, const suback& p, version v) {
  s.u16(p.packet_id);
  if (v == version::v5) put_props<p_suback>(s, p.props);
  for (const u8 rc : p.reasons) s.byte(rc);
}

template <class S>
void put_body(S& s, const unsubscribe& p, version v) {
  s.u16(p.packet_id);
  if (v == version::v5) put_props<p_unsubscribe>(s, p.props);
  for (const auto& f : p.filters) put_string(s, f);
}

template <class S>
void put_body(S& s, const unsuback& p, version v) {
  s.u16(p.packet_id);
  if (v == version::v311) return;  // 3.1.1 UNSUBACK has no payload
  put_props<p_unsuback>(s, p.props);
  for (const reason_code rc : p.reasons) s.byte(static_cast<u8>(rc));
}

template <class S>
void put_body(S&, const pingreq&, version) {}
template <class S>
void put_body(S&, const pingresp&, version) {}

template <class S>
void put_body(S& s, const disconnect& d, version v) {
  // 3.14.2.1: length 0 for Normal without properties; 3.14.2.2.1: length 1 for a bare code.
  if (v == version::v5) put_reason_and_props<p_disconnect>(s, d.reason, d.props, true);
}

template <class S>
void put_body(S& s, const auth& a, version) {
  // AUTH is 5.0 only; 3.15.2.1 allows length 0, otherwise code and Property Length.
  put_reason_and_props<p_auth>(s, a.reason, a.props, false);
}

template <class T>
void encode_one(const T& pkt, version v, std::vector<u8>& out) {
  props_lengths lengths;
  size_sink n{0, &lengths};
  put_body(n, pkt, v);
  const auto body = static_cast<std::uint32_t>(n.n);  // <= max_remaining_length: caller's contract
  const std::size_t total = 1 + varint_size(body) + n.n;
  const std::size_t start = out.size();
  // Grow geometrically: callers append many packets to one buffer, and reserving exactly
  // each time would copy the buffer once per packet.
  if (out.capacity() - start < total) out.reserve(std::max(start + total, 2 * out.capacity()));
  vector_sink w{out, &lengths};
  w.byte(first_byte(pkt));
  w.varint(body);
  put_body(w, pkt, v);
  assert(out.size() - start == total);  // the size pass and the write pass agree
}

template <class T>
std::size_t encoded_size_one(const T& pkt, version v) {
  props_lengths lengths;
  size_sink n{0, &lengths};
  put_body(n, pkt, v);
  return 1 + varint_size(static_cast<std::uint32_t>(n.n)) + n.n;
}

}  // namespace

result<decoded> decode(std::span<const std::uint8_t> in, const decode_options& opts) {
  if (in.empty()) return codec_errc::need_more_bytes;
  const u8 b0 = in[0];
  // A CONNECT names its own version; everything else is read in the negotiated one.
  if (auto e = check_fixed_header(b0, opts.protocol_version); e != ok) return e;

  // Remaining Length (2.1.4): 1 to 4 bytes, minimal [MQTT-1.5.5-1]. Judged byte by byte so
  // that an over-long field is refused without waiting for a fifth byte.
  std::uint32_t remaining = 0;
  std::size_t header = 1;
  for (;;) {
    if (header >= in.size()) return codec_errc::need_more_bytes;
    const u8 b = in[header];
    remaining |= std::uint32_t{b & 0x7Fu} << (7 * (header - 1));
    ++header;
    if ((b & 0x80) == 0) {
      if (b == 0 && header > 2) return reason_code::malformed_packet;  // not minimal
      break;
    }
    if (header == 5) return reason_code::malformed_packet;  // would need a fifth byte
  }
  const std::uint64_t total = header + std::uint64_t{remaining};
  // 5.0 3.1.2.11.4 / 3.2.2.3.6: a packet over the advertised Maximum Packet Size is refused
  // (0x95) before its bytes are buffered.
  if (total > opts.maximum_packet_size) return reason_code::packet_too_large;
  if (in.size() < total) return codec_errc::need_more_bytes;

  reader r(in.data() + header, in.data() + total);
  return decode_body(b0, r, opts.protocol_version, static_cast<std::size_t>(total));
}

void encode(const packet& p, version v, std::vector<std::uint8_t>& out) {
  std::visit([&](const auto& pkt) { encode_one(pkt, v, out); }, p);
}

std::size_t encoded_size(const packet& p, version v) {
  return std::visit([&](const auto& pkt) { return encoded_size_one(pkt, v); }, p);
}

template <packet_alternative T>
void encode(const T& p, version v, std::vector<std::uint8_t>& out) {
  encode_one(p, v, out);
}

template <packet_alternative T>
std::size_t encoded_size(const T& p, version v) {
  return encoded_size_one(p, v);
}

#define NATTER_MQTT_INSTANTIATE(T)                                        \
  template void encode<T>(const T&, version, std::vector<std::uint8_t>&); \
  template std::size_t encoded_size<T>(const T&, version);
NATTER_MQTT_INSTANTIATE(connect)
NATTER_MQTT_INSTANTIATE(connack)
NATTER_MQTT_INSTANTIATE(publish)
NATTER_MQTT_INSTANTIATE(puback)
NATTER_MQTT_INSTANTIATE(pubrec)
NATTER_MQTT_INSTANTIATE(pubrel)
NATTER_MQTT_INSTANTIATE(pubcomp)
NATTER_MQTT_INSTANTIATE(subscribe)
NATTER_MQTT_INSTANTIATE(suback)
NATTER_MQTT_INSTANTIATE(unsubscribe)
NATTER_MQTT_INSTANTIATE(unsuback)
NATTER_MQTT_INSTANTIATE(pingreq)
NATTER_MQTT_INSTANTIATE(pingresp)
NATTER_MQTT_INSTANTIATE(disconnect)
NATTER_MQTT_INSTANTIATE(auth)
#undef NATTER_MQTT_INSTANTIATE

}  // namespace natter::mqtt
