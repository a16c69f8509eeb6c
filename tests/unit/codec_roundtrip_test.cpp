// Encoder tests: round trips of every packet type in both versions with every property a
// packet may carry, exact encoded_size(), the short forms, and decoding a stream split at
// every byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "mqtt/codec.hpp"

namespace {

using namespace natter::mqtt;
using namespace natter::mqtt::test;
constexpr auto v5 = version::v5;
constexpr auto v311 = version::v311;
const std::string binary("\x00\x01\xFE\xFF", 4);

std::vector<std::pair<std::string, std::string>> users() {
  return {{"k", "v"}, {"k", "v2"}, {"", ""}, {"\xC3\xA9", "\xE2\x82\xAC"}};  // order kept
}

properties message_props() {  // PUBLISH and Will Properties
  properties p;
  p.payload_format_indicator = 1;
  p.message_expiry_interval = 3600;
  p.content_type = "text/plain";
  p.response_topic = "reply/to";
  p.correlation_data = binary;
  p.user_properties = users();
  return p;
}

std::vector<packet> full_v5_packets() {
  std::vector<packet> out;

  connect c;
  c.protocol_version = v5;
  c.clean_start = false;
  c.keep_alive = 65535;
  c.client_id = "client-1";
  c.props.session_expiry_interval = 0xFFFFFFFF;
  c.props.authentication_method = "SCRAM-SHA-256";
  c.props.authentication_data = binary;
  c.props.request_problem_information = 0;
  c.props.request_response_information = 1;
  c.props.receive_maximum = 20;
  c.props.topic_alias_maximum = 10;
  c.props.maximum_packet_size = 1 << 20;
  c.props.user_properties = users();
  c.will.emplace();
  c.will->topic = "clients/1/status";
  c.will->payload = "offline";
  c.will->qos = qos::exactly_once;
  c.will->retain = true;
  c.will->props = message_props();
  c.will->props.will_delay_interval = 30;
  c.username = "user";
  c.password = binary;
  out.push_back(c);

  connack ca;
  ca.session_present = true;
  ca.props.session_expiry_interval = 7200;
  ca.props.assigned_client_identifier = "auto-1";
  ca.props.server_keep_alive = 30;
  ca.props.authentication_method = "SCRAM-SHA-256";
  ca.props.authentication_data = binary;
  ca.props.response_information = "resp/";
  ca.props.server_reference = "other:1883";
  ca.props.reason_string = "welcome";
  ca.props.receive_maximum = 100;
  ca.props.topic_alias_maximum = 65535;
  ca.props.maximum_qos = 1;
  ca.props.retain_available = 0;
  ca.props.user_properties = users();
  ca.props.maximum_packet_size = 268'435'460;
  ca.props.wildcard_subscription_available = 0;
  ca.props.subscription_identifier_available = 1;
  ca.props.shared_subscription_available = 0;
  out.push_back(ca);

  publish p;
  p.topic = "sensors/\xC3\xA9t\xC3\xA9/temp";
  p.payload = "21.5 \xE2\x84\x83";
  p.qos = qos::at_least_once;
  p.dup = true;
  p.retain = true;
  p.packet_id = 65535;
  p.props = message_props();
  p.props.subscription_identifiers = {1, 127, 128, 16384, 268'435'455};
  p.props.topic_alias = 3;
  out.push_back(p);

  publish q0;  // QoS 0, empty topic with an alias, binary payload
  q0.props.topic_alias = 65535;
  q0.payload = binary;
  out.push_back(q0);

  properties ack_props;
  ack_props.reason_string = "because";
  ack_props.user_properties = users();
  out.push_back(puback{1, reason_code::quota_exceeded, ack_props});
  out.push_back(pubrec{2, reason_code::no_matching_subscribers, ack_props});
  out.push_back(pubrel{3, reason_code::packet_identifier_not_found, ack_props});
  out.push_back(pubcomp{4, reason_code::success, ack_props});

  subscribe s;
  s.packet_id = 5;
  s.props.subscription_identifiers = {268'435'455};
  s.props.user_properties = users();
  s.subscriptions = {{"a/+/c", qos::exactly_once, true, true, 2},
                     {"#", qos::at_most_once, false, false, 0},
                     {"$share/group/x/#", qos::at_least_once, false, true, 1}};
  out.push_back(s);

  suback sa;
  sa.packet_id = 5;
  sa.props = ack_props;
  sa.reasons = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
  out.push_back(sa);

  unsubscribe u;
  u.packet_id = 6;
  u.props.user_properties = users();
  u.filters = {"a/+/c", "#", "$share/group/x/#"};
  out.push_back(u);

  unsuback ua;
  ua.packet_id = 6;
  ua.props = ack_props;
  ua.reasons = {reason_code::success, reason_code::no_subscription_existed,
                reason_code::topic_filter_invalid};
  out.push_back(ua);

  out.push_back(pingreq{});
  out.push_back(pingresp{});

  disconnect d;
  d.reason = reason_code::server_moved;
  d.props.session_expiry_interval = 0;
  d.props.server_reference = "elsewhere";
  d.props.reason_string = "moving";
  d.props.user_properties = users();
  out.push_back(d);

  auth a;
  a.reason = reason_code::re_authenticate;
  a.props.authentication_method = "SCRAM-SHA-256";
  a.props.authentication_data = binary;
  a.props.reason_string = "again";
  a.props.user_properties = users();
  out.push_back(a);

  publish big;  // a two-byte Remaining Length
  big.topic = "big";
  big.payload.assign(200, 'b');
  out.push_back(big);
  return out;
}

std::vector<packet> full_v311_packets() {
  std::vector<packet> out;
  connect c;
  c.protocol_version = v311;
  c.clean_start = false;
  c.keep_alive = 60;
  c.client_id = "c311";
  c.will = will{"will/topic", binary, qos::at_least_once, true, {}};
  c.username = "u";
  c.password = binary;
  out.push_back(c);
  connect bare;  // no will, no credentials, empty client id
  bare.protocol_version = v311;
  out.push_back(bare);
  out.push_back(connack{true, 0, {}});
  out.push_back(connack{false, 4, {}});
  publish p;
  p.topic = "a/b";
  p.payload = binary;
  p.qos = qos::exactly_once;
  p.dup = true;
  p.packet_id = 9;
  out.push_back(p);
  publish q0;
  q0.topic = "$SYS/x";
  q0.retain = true;
  out.push_back(q0);
  out.push_back(puback{1, {}, {}});
  out.push_back(pubrec{2, {}, {}});
  out.push_back(pubrel{3, {}, {}});
  out.push_back(pubcomp{4, {}, {}});
  subscribe s;
  s.packet_id = 7;
  s.subscriptions = {{"a/#", qos::exactly_once}, {"+/b", qos::at_most_once}};
  out.push_back(s);
  out.push_back(suback{7, {0x02, 0x80, 0x00, 0x01}, {}});
  out.push_back(unsubscribe{8, {"a/#", "+/b"}, {}});
  out.push_back(unsuback{8, {}, {}});
  out.push_back(pingreq{});
  out.push_back(pingresp{});
  out.push_back(disconnect{});
  return out;
}

void expect_round_trip(const std::vector<packet>& packets, version v) {
  for (const auto& p : packets) {
    SCOPED_TRACE(static_cast<int>(type_of(p)));
    const bytes wire = enc(p, v);
    EXPECT_EQ(encoded_size(p, v), wire.size());
    auto r = dec(wire, v);
    ASSERT_TRUE(r.has_value()) << describe(r.error());
    EXPECT_EQ(r->size, wire.size());
    EXPECT_EQ(type_of(r->pkt), type_of(p));
    EXPECT_TRUE(r->pkt == p);
  }
}

TEST(RoundTrip, EveryPacketType5WithAllProperties) {
  const auto packets = full_v5_packets();
  std::uint32_t types = 0;
  for (const auto& p : packets) types |= 1u << static_cast<unsigned>(type_of(p));
  EXPECT_EQ(types, 0xFFFEu);  // all 15 types present
  expect_round_trip(packets, v5);
}

TEST(RoundTrip, EveryPacketType311) {
  const auto packets = full_v311_packets();
  std::uint32_t types = 0;
  for (const auto& p : packets) types |= 1u << static_cast<unsigned>(type_of(p));
  EXPECT_EQ(types, 0x7FFEu);  // all but AUTH
  expect_round_trip(packets, v311);
}

TEST(RoundTrip, TypedOverloadsMatchTheVariantOnes) {
  for (const version v : {v5, v311}) {
    for (const auto& p : v == v5 ? full_v5_packets() : full_v311_packets()) {
      std::visit(
          [&](const auto& typed) {
            bytes out;
            encode(typed, v, out);  // the packet_alternative overload: no copy into `packet`
            EXPECT_EQ(out, enc(p, v));
            EXPECT_EQ(encoded_size(typed, v), out.size());
          },
          p);
    }
  }
}

TEST(RoundTrip, EncodeAppends) {
  bytes out = {0xAA};
  encode(pingreq{}, v5, out);
  encode(puback{1, {}, {}}, v5, out);
  EXPECT_EQ(out, (bytes{0xAA, 0xC0, 0x00, 0x40, 0x02, 0x00, 0x01}));
}

TEST(TypeOf, FollowsControlPacketTypes) {
  EXPECT_EQ(type_of(connect{}), packet_type::connect);
  EXPECT_EQ(type_of(pubrel{}), packet_type::pubrel);
  EXPECT_EQ(type_of(unsuback{}), packet_type::unsuback);
  EXPECT_EQ(type_of(auth{}), packet_type::auth);
}

// ---------------------------------------------------------------------------------------
// The shortest legal form

TEST(EncodeShortForms, Acks5) {  // 3.4.2.1, 3.4.2.2.1
  EXPECT_EQ(enc(puback{1, reason_code::success, {}}, v5), (bytes{0x40, 0x02, 0x00, 0x01}));
  EXPECT_EQ(enc(pubrec{1, reason_code::no_matching_subscribers, {}}, v5),
            (bytes{0x50, 0x03, 0x00, 0x01, 0x10}));
  EXPECT_EQ(enc(pubrel{1, reason_code::success, {}}, v5), (bytes{0x62, 0x02, 0x00, 0x01}));
  properties rs;
  rs.reason_string = "r";
  EXPECT_EQ(enc(pubcomp{1, reason_code::success, rs}, v5),
            (bytes{0x70, 0x08, 0x00, 0x01,  // PUBCOMP 1
                   0x00,                    // Success, written because properties follow
                   0x04, 0x1F, 0x00, 0x01, 'r'}));
}

TEST(EncodeShortForms, Acks311IgnoreReasonAndProperties) {
  properties rs;
  rs.reason_string = "r";
  EXPECT_EQ(enc(puback{1, reason_code::quota_exceeded, rs}, v311), (bytes{0x40, 0x02, 0x00, 0x01}));
}

TEST(EncodeShortForms, DisconnectAndAuth) {  // 3.14.2.1, 3.15.2.1
  EXPECT_EQ(enc(disconnect{}, v5), (bytes{0xE0, 0x00}));
  EXPECT_EQ(enc(disconnect{reason_code::disconnect_with_will_message, {}}, v5),
            (bytes{0xE0, 0x01, 0x04}));
  EXPECT_EQ(enc(disconnect{reason_code::protocol_error, {}}, v311), (bytes{0xE0, 0x00}));
  EXPECT_EQ(enc(auth{}, v5), (bytes{0xF0, 0x00}));
  // AUTH has no one-byte form: a reason code is followed by a Property Length.
  EXPECT_EQ(enc(auth{reason_code::continue_authentication, {}}, v5),
            (bytes{0xF0, 0x02, 0x18, 0x00}));
}

TEST(EncodeShortForms, Unsuback311HasNoPayload) {  // 3.1.1 3.11
  EXPECT_EQ(enc(unsuback{1, {reason_code::success}, {}}, v311), (bytes{0xB0, 0x02, 0x00, 0x01}));
}

TEST(EncodeShortForms, Connack311IsTheReturnCodeByte) {  // 3.1.1 3.2
  EXPECT_EQ(enc(connack{false, 5, {}}, v311), (bytes{0x20, 0x02, 0x00, 0x05}));
  EXPECT_EQ(enc(connack{true, 0, {}}, v5), (bytes{0x20, 0x03, 0x01, 0x00, 0x00}));
}

// ---------------------------------------------------------------------------------------
// What the encoder will not write

TEST(EncodeRules, MisplacedPropertiesAreNotWritten) {  // 2.2.2.2
  properties p;
  p.topic_alias = 5;              // PUBLISH only
  p.session_expiry_interval = 1;  // CONNECT, CONNACK, DISCONNECT
  EXPECT_EQ(enc(puback{1, reason_code::success, p}, v5), (bytes{0x40, 0x02, 0x00, 0x01}));
  publish pub;
  pub.topic = "t";
  pub.props = p;
  EXPECT_EQ(enc(pub, v5), (bytes{0x30, 0x07, 0x00, 0x01, 't', 0x03, 0x23, 0x00, 0x05}));
  EXPECT_EQ(encoded_size(pub, v5), 9u);
}

TEST(EncodeRules, SubscribeCarriesOneSubscriptionIdentifier) {  // 3.8.2.1.2
  subscribe s;
  s.packet_id = 1;
  s.props.subscription_identifiers = {3, 4};
  s.subscriptions = {{"a"}};
  EXPECT_EQ(enc(s, v5), (bytes{0x82, 0x09,        // SUBSCRIBE, length 9
                               0x00, 0x01,        // packet id 1
                               0x02, 0x0B, 0x03,  // Subscription Identifier 3 only
                               0x00, 0x01, 'a',   // filter "a"
                               0x00}));
}

TEST(EncodeRules, NoDupOrPacketIdOnQos0) {  // [MQTT-3.3.1-2], [MQTT-2.2.1-2]
  publish p;
  p.topic = "t";
  p.dup = true;
  p.packet_id = 7;
  EXPECT_EQ(enc(p, v311), (bytes{0x30, 0x03, 0x00, 0x01, 't'}));
}

TEST(EncodeRules, Mqtt311DropsVersion5Fields) {
  publish p;
  p.topic = "t";
  p.props.message_expiry_interval = 9;
  EXPECT_EQ(enc(p, v311), (bytes{0x30, 0x03, 0x00, 0x01, 't'}));
  subscribe s;
  s.packet_id = 1;
  s.subscriptions = {{"a", qos::at_least_once, true, true, 2}};
  EXPECT_EQ(enc(s, v311), (bytes{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x01}));
}

TEST(EncodeRules, ConnectUsesItsOwnVersion) {
  connect c;
  c.protocol_version = v311;
  c.client_id = "c";
  c.props.session_expiry_interval = 5;  // not representable in 3.1.1
  EXPECT_EQ(enc(c, v5), (bytes{0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x00,
                               0x00, 0x01, 'c'}));
}

// ---------------------------------------------------------------------------------------
// Streams: several packets per read, packets split across reads at any byte.

// Decodes everything complete at the front of `buf`, appending to `got`, leaving the rest.
void drain(bytes& buf, version v, std::vector<packet>& got) {
  for (;;) {
    auto r = dec(buf, v);
    if (r.error() == make_error_code(codec_errc::need_more_bytes)) return;
    ASSERT_TRUE(r.has_value()) << describe(r.error());
    got.push_back(std::move(r->pkt));
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(r->size));
  }
}

void expect_every_split_point(const std::vector<packet>& packets, version v) {
  bytes stream;
  for (const auto& p : packets) encode(p, v, stream);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    bytes buf(stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(split));
    std::vector<packet> got;
    drain(buf, v, got);
    buf.insert(buf.end(), stream.begin() + static_cast<std::ptrdiff_t>(split), stream.end());
    drain(buf, v, got);
    ASSERT_TRUE(buf.empty()) << "split " << split;
    ASSERT_TRUE(got == packets) << "split " << split;
  }
}

TEST(DecodeStream, EverySplitPoint5) {
  expect_every_split_point(full_v5_packets(), v5);
}

TEST(DecodeStream, EverySplitPoint311) {
  expect_every_split_point(full_v311_packets(), v311);
}

TEST(DecodeStream, ByteByByteThroughAThreeByteLength) {
  publish p;
  p.topic = "t";
  p.payload.assign(20'000, 'p');  // Remaining Length 20,004: three bytes
  const std::vector<packet> packets = {packet{pingreq{}}, packet{p}, packet{puback{1, {}, {}}}};
  bytes stream;
  for (const auto& q : packets) encode(q, v5, stream);
  EXPECT_EQ(stream[3], 0xA4);  // after PINGREQ's two bytes and PUBLISH's type byte
  bytes buf;
  std::vector<packet> got;
  for (const auto b : stream) {
    buf.push_back(b);
    drain(buf, v5, got);
  }
  EXPECT_TRUE(buf.empty());
  EXPECT_TRUE(got == packets);
}

// ---------------------------------------------------------------------------------------
// Robustness: damaged input never crashes or reads outside the buffer (run under ASan), and
// whatever decodes re-encodes to something that decodes to the same packet.

void expect_survives(const bytes& in, version v) {
  const bytes exact(in);  // heap block of exactly in.size() bytes: ASan sees over-reads
  auto r = dec(exact, v);
  if (!r.has_value()) return;
  ASSERT_LE(r->size, exact.size());
  const bytes again = enc(r->pkt, v);
  auto r2 = dec(again, v);
  ASSERT_TRUE(r2.has_value()) << describe(r2.error());
  EXPECT_TRUE(r2->pkt == r->pkt);
}

TEST(DecodeRobustness, EveryByteDamagedAndEveryTruncation) {
  for (const version v : {v5, v311}) {
    for (const auto& p : v == v5 ? full_v5_packets() : full_v311_packets()) {
      const bytes wire = enc(p, v);
      for (std::size_t i = 0; i < wire.size(); ++i) {
        for (const std::uint8_t b : {0x00, 0x01, 0x7F, 0x80, 0xFF}) {
          bytes damaged = wire;
          damaged[i] = b;
          expect_survives(damaged, v);
          damaged[i] = static_cast<std::uint8_t>(wire[i] ^ 0x01);
          expect_survives(damaged, v);
        }
        expect_survives(bytes(wire.begin(), wire.begin() + static_cast<std::ptrdiff_t>(i)), v);
      }
    }
  }
}

}  // namespace
