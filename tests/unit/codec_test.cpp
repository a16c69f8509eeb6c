// Decoder tests: the fixed header, spec examples, and one test per validation rule.
//
// Each rule test decodes a valid packet and the same packet with one thing changed, so it
// fails both if the rule is missing and if the test bytes are wrong for another reason.
// Statement numbers are MQTT 5.0 unless marked 3.1.1.
#include "mqtt/codec.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "codec_test_util.hpp"

namespace {

using namespace natter::mqtt;
using namespace natter::mqtt::test;
constexpr auto v5 = version::v5;
constexpr auto v311 = version::v311;
const auto need_more = make_error_code(codec_errc::need_more_bytes);

// ---------------------------------------------------------------------------------------
// Remaining Length (5.0 1.5.5 Table 1-1, 3.1.1 2.2.3 Table 2.4)

struct rl_case {
  std::uint32_t value;
  bytes wire;
};
const rl_case rl_cases[] = {
    {0, {0x00}},
    {127, {0x7F}},
    {128, {0x80, 0x01}},
    {16'383, {0xFF, 0x7F}},
    {16'384, {0x80, 0x80, 0x01}},
    {2'097'151, {0xFF, 0xFF, 0x7F}},
    {2'097'152, {0x80, 0x80, 0x80, 0x01}},
    {268'435'455, {0xFF, 0xFF, 0xFF, 0x7F}},
};

TEST(RemainingLength, SpecExamplesDecodeToTheirValue) {
  for (const auto& c : rl_cases) {
    SCOPED_TRACE(c.value);
    // A PINGREQ header announcing c.value bytes. maximum_packet_size probes the packet size
    // the decoder computed, before any body byte arrives: header + value exactly.
    const bytes header = cat({{0xC0}, c.wire});
    const auto total = static_cast<std::uint32_t>(header.size() + c.value);
    decode_options o;
    o.maximum_packet_size = total;
    auto r = decode(header, o);
    if (c.value == 0) {
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->size, 2u);
    } else {
      EXPECT_EQ(r.error(), need_more);
    }
    o.maximum_packet_size = total - 1;
    EXPECT_EQ(decode(header, o).error(), make_error_code(reason_code::packet_too_large));
  }
}

TEST(RemainingLength, SpecExamplesEncodeToTheirBytes) {
  for (const auto& c : rl_cases) {
    SCOPED_TRACE(c.value);
    if (c.value == max_remaining_length) continue;  // a 256 MiB packet: covered by decode
    packet p = pingreq{};
    if (c.value > 0) {
      publish pub;  // 3.1.1, QoS 0: topic "a" (3 bytes) + payload
      pub.topic = "a";
      pub.payload.assign(c.value - 3, 'x');
      p = std::move(pub);
    }
    const bytes out = enc(p, v311);
    ASSERT_EQ(out.size(), 1 + c.wire.size() + c.value);
    EXPECT_TRUE(std::equal(c.wire.begin(), c.wire.end(), out.begin() + 1));
    EXPECT_EQ(encoded_size(p, v311), out.size());
    EXPECT_TRUE(decodes(out, v311));
  }
}

TEST(RemainingLength, FifthByteIsMalformedWithoutWaitingForIt) {  // 1.5.5: at most 4 bytes
  EXPECT_TRUE(fails_with({0x30, 0xFF, 0xFF, 0xFF, 0xFF}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0xC0, 0x80, 0x80, 0x80, 0x80}, v311, reason_code::malformed_packet));
  // Four bytes with the last continuation bit set: still waiting is wrong, and so is
  // accepting. One byte fewer is a legitimately partial header.
  EXPECT_EQ(dec({0xC0, 0x80, 0x80, 0x80}).error(), need_more);
}

TEST(RemainingLength, NonMinimalEncodingIsMalformed) {  // [MQTT-1.5.5-1]
  EXPECT_TRUE(decodes({0xC0, 0x00}));
  EXPECT_TRUE(fails_with({0xC0, 0x80, 0x00}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0xD0, 0x80, 0x80, 0x00}, v5, reason_code::malformed_packet));
  const bytes five = {0x30, 0x05, 0x00, 0x01, 'a', 'x', 'y'};  // PUBLISH "a" "xy", 3.1.1
  const bytes five_in_two = {0x30, 0x85, 0x00, 0x00, 0x01, 'a', 'x', 'y'};
  EXPECT_TRUE(decodes(five, v311));
  EXPECT_TRUE(fails_with(five_in_two, v311, reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// Incremental input

TEST(DecodeStream, EmptyInputNeedsMoreBytes) {
  EXPECT_EQ(dec({}).error(), need_more);
}

TEST(DecodeStream, EveryStrictPrefixNeedsMoreBytes) {
  connect c;
  c.client_id = "prefix";
  c.will = will{"w/t", "bye", qos::at_least_once, true, {}};
  c.will->props.will_delay_interval = 5;
  c.username = "u";
  c.password = "p";
  c.props.session_expiry_interval = 60;
  publish big;  // two-byte Remaining Length
  big.topic = "t";
  big.payload.assign(300, 'z');
  for (const packet& p : {packet{c}, packet{big}}) {
    const bytes full = enc(p, v5);
    for (std::size_t n = 0; n < full.size(); ++n) {
      const bytes part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
      ASSERT_EQ(dec(part).error(), need_more) << "prefix " << n << " of " << full.size();
    }
    EXPECT_TRUE(decodes(full));
  }
}

TEST(DecodeStream, ConsumesExactlyOnePacket) {
  const bytes two = {0xC0, 0x00,               // PINGREQ
                     0x40, 0x02, 0x00, 0x07};  // PUBACK 7
  auto r = dec(two);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->size, 2u);
  EXPECT_TRUE(std::holds_alternative<pingreq>(r->pkt));
  auto r2 = dec(bytes(two.begin() + 2, two.end()));
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(std::get<puback>(r2->pkt).packet_id, 7);
}

TEST(DecodeStream, OversizedPacketIsRefusedFromItsHeader) {  // 3.1.2.11.4 / 3.2.2.3.6
  // 2,097,151 bytes announced; only the 4-byte fixed header has arrived.
  const bytes header = {0x30, 0xFF, 0xFF, 0x7F};
  decode_options o;
  o.maximum_packet_size = 1024;
  EXPECT_EQ(decode(header, o).error(), make_error_code(reason_code::packet_too_large));
  o.maximum_packet_size = 2'097'151 + 4;
  EXPECT_EQ(decode(header, o).error(), need_more);
}

TEST(DecodeStream, PacketOfExactlyMaximumSizeIsAccepted) {
  const bytes puback5 = {0x40, 0x02, 0x00, 0x05};
  decode_options o;
  o.maximum_packet_size = 4;
  EXPECT_TRUE(decode(puback5, o).has_value());
  o.maximum_packet_size = 3;
  EXPECT_EQ(decode(puback5, o).error(), make_error_code(reason_code::packet_too_large));
}

// ---------------------------------------------------------------------------------------
// Fixed header flags: 5.0 [MQTT-2.1.3-1], 3.1.1 [MQTT-2.2.2-1], [MQTT-2.2.2-2]

struct flag_case {
  const char* name;
  bytes valid;
  std::uint8_t bad_first_byte;
};

TEST(DecodeFixedHeader, ReservedFlagBitsMustHaveTheirListedValue) {
  const flag_case cases[] = {
      {"CONNECT", pkt(0x10, cat({str("MQTT"), {0x05, 0x02, 0x00, 0x3C, 0x00}, str("c")})), 0x11},
      {"CONNACK", {0x20, 0x03, 0x00, 0x00, 0x00}, 0x28},
      {"PUBACK", {0x40, 0x02, 0x00, 0x01}, 0x41},
      {"PUBREC", {0x50, 0x02, 0x00, 0x01}, 0x52},
      {"PUBREL 0000", {0x62, 0x02, 0x00, 0x01}, 0x60},  // [MQTT-3.6.1-1]
      {"PUBREL 0011", {0x62, 0x02, 0x00, 0x01}, 0x63},
      {"PUBCOMP", {0x70, 0x02, 0x00, 0x01}, 0x74},
      {"SUBSCRIBE 0000", pkt(0x82, cat({{0x00, 0x01, 0x00}, str("a"), {0x00}})),
       0x80},  // [MQTT-3.8.1-1]
      {"SUBSCRIBE 1010", pkt(0x82, cat({{0x00, 0x01, 0x00}, str("a"), {0x00}})), 0x8A},
      {"SUBACK", {0x90, 0x04, 0x00, 0x01, 0x00, 0x00}, 0x92},
      {"UNSUBSCRIBE", pkt(0xA2, cat({{0x00, 0x01, 0x00}, str("a")})), 0xA0},  // [MQTT-3.10.1-1]
      {"UNSUBACK", {0xB0, 0x04, 0x00, 0x01, 0x00, 0x00}, 0xB2},
      {"PINGREQ", {0xC0, 0x00}, 0xC1},
      {"PINGRESP", {0xD0, 0x00}, 0xD8},
      {"DISCONNECT", {0xE0, 0x00}, 0xE4},
      {"AUTH", {0xF0, 0x00}, 0xF1},  // [MQTT-3.15.1-1]
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(decodes(c.valid, v5));
    bytes bad = c.valid;
    bad[0] = c.bad_first_byte;
    EXPECT_TRUE(fails_with(bad, v5, reason_code::malformed_packet));
    // Judged from the first byte alone: no need to buffer the rest.
    EXPECT_TRUE(fails_with({c.bad_first_byte}, v5, reason_code::malformed_packet));
  }
}

TEST(DecodeFixedHeader, PacketTypeZeroIsMalformed) {  // "Reserved / Forbidden"
  EXPECT_TRUE(fails_with({0x00, 0x00}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0x00, 0x00}, v311, reason_code::malformed_packet));
}

TEST(DecodeFixedHeader, AuthIsReservedIn311) {  // 3.1.1 2.2.1: type 15 "Reserved"
  EXPECT_TRUE(decodes({0xF0, 0x00}, v5));
  EXPECT_TRUE(fails_with({0xF0, 0x00}, v311, reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// PUBLISH

TEST(DecodePublish, QosAndFlagsAndPayload) {
  const auto p = packet_as<publish>({0x3B, 0x0A,                 // PUBLISH, DUP, QoS 1, RETAIN
                                     0x00, 0x03, 'a', '/', 'b',  // topic "a/b"
                                     0x12, 0x34,                 // packet id 0x1234
                                     0x00,                       // no properties
                                     'h', 'i'});                 // payload
  EXPECT_TRUE(p.dup);
  EXPECT_EQ(p.qos, qos::at_least_once);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.topic, "a/b");
  EXPECT_EQ(p.packet_id, 0x1234);
  EXPECT_EQ(p.payload, "hi");
}

TEST(DecodePublish, BothQosBitsSetIsMalformed) {  // [MQTT-3.3.1-4]
  const bytes qos1 = {0x32, 0x06,                 // PUBLISH, QoS bits 01; length 6
                      0x00, 0x01, 0x61,           // topic "a"
                      0x00, 0x01,                 // packet id 1
                      0x00};                      // no properties
  bytes qos3 = qos1;
  qos3[0] = 0x36;  // QoS bits 11
  EXPECT_TRUE(decodes(qos1, v5));
  EXPECT_TRUE(fails_with(qos3, v5, reason_code::malformed_packet));
  const bytes qos1_v311 = {0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01};
  EXPECT_TRUE(decodes(qos1_v311, v311));
  EXPECT_TRUE(
      fails_with({0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01}, v311, reason_code::malformed_packet));
}

TEST(DecodePublish, DupOnQos0IsMalformed) {  // [MQTT-3.3.1-2] (3.1.1 too)
  EXPECT_TRUE(decodes({0x30, 0x04, 0x00, 0x01, 'a', 0x00}, v5));
  EXPECT_TRUE(fails_with({0x38, 0x04, 0x00, 0x01, 'a', 0x00}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0x38, 0x03, 0x00, 0x01, 'a'}, v311, reason_code::malformed_packet));
}

TEST(DecodePublish, PacketIdZeroIsProtocolError) {  // [MQTT-2.2.1-3], 3.1.1 [MQTT-2.3.1-1]
  EXPECT_TRUE(decodes({0x34, 0x06, 0x00, 0x01, 'a', 0x00, 0x01, 0x00}, v5));
  EXPECT_TRUE(
      fails_with({0x34, 0x06, 0x00, 0x01, 'a', 0x00, 0x00, 0x00}, v5, reason_code::protocol_error));
  EXPECT_TRUE(
      fails_with({0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00}, v311, reason_code::protocol_error));
}

TEST(DecodePublish, WildcardInTopicNameIsTopicNameInvalid) {  // [MQTT-3.3.2-2]
  for (const char* topic : {"#", "a/+", "a/#", "+"}) {
    SCOPED_TRACE(topic);
    EXPECT_TRUE(
        fails_with(pkt(0x30, cat({str(topic), {0x00}})), v5, reason_code::topic_name_invalid));
    EXPECT_TRUE(fails_with(pkt(0x30, str(topic)), v311, reason_code::topic_name_invalid));
  }
  EXPECT_TRUE(decodes(pkt(0x30, cat({str("a/b c/$d"), {0x00}})), v5));
}

TEST(DecodePublish, EmptyTopicWithoutAliasIsProtocolError) {  // 3.3.2.3.4
  const bytes with_alias = {0x30, 0x06,                       // PUBLISH QoS 0
                            0x00, 0x00,                       // topic ""
                            0x03, 0x23, 0x00, 0x01};          // Topic Alias 1
  const auto p = packet_as<publish>(with_alias);
  EXPECT_EQ(p.topic, "");
  EXPECT_EQ(p.props.topic_alias, 1);
  EXPECT_TRUE(fails_with({0x30, 0x03, 0x00, 0x00, 0x00}, v5, reason_code::protocol_error));
}

TEST(DecodePublish, EmptyTopicIn311IsTopicNameInvalid) {  // 3.1.1 [MQTT-4.7.3-1]
  EXPECT_TRUE(decodes({0x30, 0x04, 0x00, 0x01, 'a', 'x'}, v311));
  EXPECT_TRUE(fails_with({0x30, 0x03, 0x00, 0x00, 'x'}, v311, reason_code::topic_name_invalid));
}

TEST(DecodePublish, TopicAliasZeroIsProtocolError) {  // [MQTT-3.3.2-8]
  EXPECT_TRUE(decodes({0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x01}));
  EXPECT_TRUE(fails_with({0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x23, 0x00, 0x00}, v5,
                         reason_code::protocol_error));
}

TEST(DecodePublish, Utf8PayloadFormatIsChecked) {  // 3.3.2.3.2 -> 0x99
  const bytes ok = {0x30, 0x08, 0x00, 0x01, 'a',   // topic "a"
                    0x02, 0x01, 0x01,              // Payload Format Indicator 1 (UTF-8)
                    0xC3, 0xA9};                   // "é"
  EXPECT_TRUE(decodes(ok));
  EXPECT_TRUE(fails_with({0x30, 0x08, 0x00, 0x01, 'a', 0x02, 0x01, 0x01, 0xC3, 0x28}, v5,
                         reason_code::payload_format_invalid));
  // U+0000 is well-formed character data (only UTF-8 *strings* exclude it).
  EXPECT_TRUE(decodes({0x30, 0x07, 0x00, 0x01, 'a', 0x02, 0x01, 0x01, 0x00}));
  // Indicator 0: unspecified bytes, anything goes.
  EXPECT_TRUE(decodes({0x30, 0x08, 0x00, 0x01, 'a', 0x02, 0x01, 0x00, 0xC3, 0x28}));
}

TEST(DecodePublish, PayloadFormatIndicatorAboveOneIsProtocolError) {  // 3.3.2.3.2
  EXPECT_TRUE(fails_with({0x30, 0x07, 0x00, 0x01, 'a', 0x02, 0x01, 0x02, 'x'}, v5,
                         reason_code::protocol_error));
}

TEST(DecodePublish, SubscriptionIdentifiers) {                     // 3.3.2.3.8
  const auto p = packet_as<publish>({0x30, 0x09, 0x00, 0x01, 'a',  // topic "a"
                                     0x05,                         // properties: 5 bytes
                                     0x0B, 0x01,                   // Subscription Identifier 1
                                     0x0B, 0x80, 0x01});           // Subscription Identifier 128
  EXPECT_EQ(p.props.subscription_identifiers, (std::vector<std::uint32_t>{1, 128}));
  // "It is a Protocol Error if the Subscription Identifier has a value of 0."
  EXPECT_TRUE(
      fails_with({0x30, 0x06, 0x00, 0x01, 'a', 0x02, 0x0B, 0x00}, v5, reason_code::protocol_error));
  // Variable Byte Integer not in its shortest form [MQTT-1.5.5-1].
  EXPECT_TRUE(fails_with({0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x0B, 0x81, 0x00}, v5,
                         reason_code::malformed_packet));
}

TEST(DecodePublish, ResponseTopicWithWildcardIsProtocolError) {  // [MQTT-3.3.2-14]
  EXPECT_TRUE(decodes({0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x08, 0x00, 0x01, 'r'}));
  EXPECT_TRUE(fails_with({0x30, 0x08, 0x00, 0x01, 'a', 0x04, 0x08, 0x00, 0x01, '#'}, v5,
                         reason_code::protocol_error));
}

TEST(DecodePublish, MissingPropertyLengthIsMalformedIn5) {  // [MQTT-2.2.2-1]
  const bytes no_props = {0x30, 0x03, 0x00, 0x01, 'a'};
  EXPECT_TRUE(decodes(no_props, v311));
  EXPECT_TRUE(fails_with(no_props, v5, reason_code::malformed_packet));
}

TEST(DecodeUtf8, IllFormedTopicIsMalformed) {  // [MQTT-1.5.4-1], 3.1.1 [MQTT-1.5.3-1]
  EXPECT_TRUE(decodes({0x30, 0x05, 0x00, 0x02, 0xC3, 0xA9, 0x00}));  // "é"
  EXPECT_TRUE(
      fails_with({0x30, 0x05, 0x00, 0x02, 0xC3, 0x28, 0x00}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(
      fails_with({0x30, 0x04, 0x00, 0x02, 0xC3, 0x28}, v311, reason_code::malformed_packet));
}

TEST(DecodeUtf8, SurrogateIsMalformed) {                                        // [MQTT-1.5.4-1]
  EXPECT_TRUE(decodes({0x30, 0x06, 0x00, 0x03, 0xED, 0x9F, 0xBF, 0x00}));       // U+D7FF
  EXPECT_TRUE(fails_with({0x30, 0x06, 0x00, 0x03, 0xED, 0xA0, 0x80, 0x00}, v5,  // U+D800
                         reason_code::malformed_packet));
}

TEST(DecodeUtf8, NullCharacterIsMalformed) {  // [MQTT-1.5.4-2], 3.1.1 [MQTT-1.5.3-2]
  EXPECT_TRUE(
      fails_with({0x30, 0x05, 0x00, 0x02, 'a', 0x00, 0x00}, v5, reason_code::malformed_packet));
}

TEST(DecodeUtf8, UserPropertyStringsAreChecked) {  // [MQTT-1.5.4-1] on 1.5.7 pairs
  EXPECT_TRUE(decodes({0x30, 0x0B, 0x00, 0x01, 'a', 0x07, 0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'}));
  EXPECT_TRUE(
      fails_with({0x30, 0x0B, 0x00, 0x01, 'a', 0x07, 0x26, 0x00, 0x01, 0xFF, 0x00, 0x01, 'v'}, v5,
                 reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// Properties in general (2.2.2)

TEST(DecodeProperties, DuplicatePropertyIsProtocolError) {  // "more than once" rules
  const bytes once = {0x30, 0x09, 0x00, 0x01, 'a',          // topic "a"
                      0x05, 0x02, 0x00, 0x00, 0x00, 0x0A};  // Message Expiry Interval 10
  const bytes twice = {0x30, 0x0E, 0x00, 0x01, 'a',         // topic "a"
                       0x0A, 0x02, 0x00, 0x00, 0x00, 0x0A,  // Message Expiry Interval 10
                       0x02, 0x00, 0x00, 0x00, 0x0A};       // ... again
  EXPECT_TRUE(decodes(once));
  EXPECT_TRUE(fails_with(twice, v5, reason_code::protocol_error));
}

TEST(DecodeProperties, EveryDataTypeRefusesDuplicates) {  // "more than once" rules
  struct dup_case {
    const char* name;
    bytes property;
  };
  const dup_case cases[] = {
      {"Byte: Payload Format Indicator", {0x01, 0x00}},
      {"Two Byte Integer: Topic Alias", {0x23, 0x00, 0x01}},
      {"Four Byte Integer: Message Expiry Interval", {0x02, 0x00, 0x00, 0x00, 0x01}},
      {"UTF-8 String: Content Type", cat({{0x03}, str("text")})},
      {"Binary Data: Correlation Data", cat({{0x09}, str("id")})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto publish_with = [](const bytes& props) {
      return pkt(0x30, cat({str("a"), {static_cast<std::uint8_t>(props.size())}, props}));
    };
    EXPECT_TRUE(decodes(publish_with(c.property)));
    EXPECT_TRUE(
        fails_with(publish_with(cat({c.property, c.property})), v5, reason_code::protocol_error));
  }
}

TEST(DecodeProperties, UserPropertyMayRepeat) {  // 3.3.2.3.7
  const auto p = packet_as<publish>(
      pkt(0x30, cat({str("a"), {0x0E, 0x26}, str("k"), str("1"), {0x26}, str("k"), str("2")})));
  ASSERT_EQ(p.props.user_properties.size(), 2u);
  EXPECT_EQ(p.props.user_properties[1], (std::pair<std::string, std::string>{"k", "2"}));
}

TEST(DecodeProperties, PropertyNotAllowedInPacketIsMalformed) {  // 2.2.2.2
  // Message Expiry Interval (0x02) belongs to PUBLISH; Session Expiry Interval (0x11),
  // same shape, does not.
  EXPECT_TRUE(decodes({0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x02, 0x00, 0x00, 0x00, 0x0A}));
  EXPECT_TRUE(fails_with({0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A}, v5,
                         reason_code::malformed_packet));
}

TEST(DecodeProperties, UnknownIdentifierIsMalformed) {  // 2.2.2.2
  EXPECT_TRUE(fails_with({0x30, 0x09, 0x00, 0x01, 'a', 0x05, 0x04, 0x00, 0x00, 0x00, 0x0A}, v5,
                         reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0x30, 0x07, 0x00, 0x01, 'a', 0x03, 0x80, 0x01, 0x00}, v5,
                         reason_code::malformed_packet));
}

TEST(DecodeProperties, PropertyLengthMustFitTheRemainingLength) {  // 2.2.2.1
  const bytes fits = {0x30, 0x07, 0x00, 0x01, 'a',                 // topic "a"
                      0x03, 0x23, 0x00, 0x01};                     // properties: Topic Alias 1
  bytes overruns = fits;
  overruns[5] = 0x04;  // Property Length 4, only 3 bytes left
  EXPECT_TRUE(decodes(fits));
  EXPECT_TRUE(fails_with(overruns, v5, reason_code::malformed_packet));
}

TEST(DecodeProperties, TruncatedValueIsMalformed) {
  // Property Length 2 covers the identifier and one byte of a Two Byte Integer.
  EXPECT_TRUE(fails_with({0x30, 0x07, 0x00, 0x01, 'a', 0x02, 0x23, 0x00, 0x01}, v5,
                         reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// CONNECT

TEST(DecodeConnect, Mqtt311SpecExample) {
  // 3.1.1 section 3.1.2.10, Figure 3.6 (variable header), with a payload for its flags.
  const bytes in = {
      0x10, 0x19,                      // CONNECT, remaining length 25
      0x00, 0x04, 'M', 'Q', 'T', 'T',  // protocol name
      0x04,                            // protocol level 4
      0xCE,                            // user name, password, will QoS 1, will, clean
      0x00, 0x0A,                      // keep alive 10
      0x00, 0x01, 'c',                 // client identifier "c"
      0x00, 0x01, 'w',                 // will topic "w"
      0x00, 0x01, 'm',                 // will message "m"
      0x00, 0x01, 'u',                 // user name "u"
      0x00, 0x01, 'p',                 // password "p"
  };
  const auto c = packet_as<connect>(in, v311);
  EXPECT_EQ(c.protocol_version, v311);
  EXPECT_EQ(c.protocol_name, "MQTT");
  EXPECT_TRUE(c.clean_start);
  EXPECT_EQ(c.keep_alive, 10);
  EXPECT_EQ(c.client_id, "c");
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "w");
  EXPECT_EQ(c.will->payload, "m");
  EXPECT_EQ(c.will->qos, qos::at_least_once);
  EXPECT_FALSE(c.will->retain);
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(c.password, "p");
  EXPECT_EQ(enc(c, v311), in);  // and back, byte for byte
}

TEST(DecodeConnect, Mqtt5SpecExample) {
  // 5.0 section 3.1.2.12, Figure 3-6: the same flags plus Session Expiry Interval 10.
  const bytes in = {
      0x10, 0x20,                         // CONNECT, remaining length 32
      0x00, 0x04, 'M',  'Q',  'T',  'T',  // protocol name
      0x05,                               // protocol version 5
      0xCE,                               // user name, password, will QoS 1, will, clean
      0x00, 0x0A,                         // keep alive 10
      0x05,                               // properties: 5 bytes
      0x11, 0x00, 0x00, 0x00, 0x0A,       // Session Expiry Interval 10
      0x00, 0x01, 'c',                    // client identifier "c"
      0x00,                               // will properties: none
      0x00, 0x01, 'w',                    // will topic "w"
      0x00, 0x01, 'm',                    // will payload "m"
      0x00, 0x01, 'u',                    // user name "u"
      0x00, 0x01, 'p',                    // password "p"
  };
  // A CONNECT is read by the level it names, whatever the session assumed.
  const auto c = packet_as<connect>(in, v311);
  EXPECT_EQ(c.protocol_version, v5);
  EXPECT_EQ(c.props.session_expiry_interval, 10u);
  EXPECT_EQ(c.keep_alive, 10);
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->qos, qos::at_least_once);
  EXPECT_EQ(c.username, "u");
  EXPECT_EQ(enc(c, v5), in);
}

// A v5 CONNECT: name, level, flags, keep alive 60, then `rest` (properties and payload).
bytes connect5(std::uint8_t flags, const bytes& rest, std::string_view name = "MQTT",
               std::uint8_t level = 5) {
  return pkt(0x10, cat({str(name), {level, flags, 0x00, 0x3C}, rest}));
}
bytes connect311(std::uint8_t flags, const bytes& rest) {
  return pkt(0x10, cat({str("MQTT"), {0x04, flags, 0x00, 0x3C}, rest}));
}
const bytes no_props = {0x00};

TEST(DecodeConnect, ProtocolNameOtherThanMqttIsRefused) {  // [MQTT-3.1.2-1]
  EXPECT_TRUE(decodes(connect5(0x02, cat({no_props, str("c")}))));
  EXPECT_TRUE(fails_with(connect5(0x02, cat({no_props, str("c")}), "MQTX"), v5,
                         reason_code::protocol_error));
  // MQTT 3.1 is a known protocol at a level we do not support: the session can answer
  // with CONNACK 0x01.
  EXPECT_TRUE(fails_with(connect5(0x02, str("c"), "MQIsdp", 3), v5,
                         reason_code::unsupported_protocol_version));
}

TEST(DecodeConnect, ProtocolLevelOtherThan4Or5IsUnsupported) {  // [MQTT-3.1.2-2]
  for (const std::uint8_t level : {0, 3, 6, 0x84}) {
    SCOPED_TRACE(int{level});
    EXPECT_TRUE(fails_with(connect5(0x02, cat({no_props, str("c")}), "MQTT", level), v5,
                           reason_code::unsupported_protocol_version));
  }
  EXPECT_TRUE(decodes(connect311(0x02, str("c")), v5));
}

TEST(DecodeConnect, ReservedFlagMustBeZero) {  // [MQTT-3.1.2-3]
  EXPECT_TRUE(
      fails_with(connect5(0x03, cat({no_props, str("c")})), v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(connect311(0x03, str("c")), v311, reason_code::malformed_packet));
}

TEST(DecodeConnect, WillQos3IsMalformed) {  // [MQTT-3.1.2-12], 3.1.1 [MQTT-3.1.2-14]
  const bytes will_payload = cat({no_props, str("c"), no_props, str("w"), str("m")});
  EXPECT_TRUE(decodes(connect5(0x16, will_payload)));  // will, QoS 2, clean
  EXPECT_TRUE(fails_with(connect5(0x1E, will_payload), v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(connect311(0x1E, cat({str("c"), str("w"), str("m")})), v311,
                         reason_code::malformed_packet));
}

TEST(DecodeConnect, WillQosWithoutWillIsMalformed) {  // [MQTT-3.1.2-11], 3.1.1 -13
  const bytes payload = cat({no_props, str("c")});
  EXPECT_TRUE(decodes(connect5(0x02, payload)));
  EXPECT_TRUE(fails_with(connect5(0x0A, payload), v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(connect311(0x0A, str("c")), v311, reason_code::malformed_packet));
}

TEST(DecodeConnect, WillRetainWithoutWillIsMalformed) {  // [MQTT-3.1.2-13], 3.1.1 -15
  EXPECT_TRUE(
      fails_with(connect5(0x22, cat({no_props, str("c")})), v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(connect311(0x22, str("c")), v311, reason_code::malformed_packet));
  // With the will flag, retain is fine.
  EXPECT_TRUE(decodes(connect5(0x26, cat({no_props, str("c"), no_props, str("w"), str("m")}))));
}

TEST(DecodeConnect, PasswordWithoutUserNameIs311ProtocolError) {  // 3.1.1 [MQTT-3.1.2-22]
  EXPECT_TRUE(decodes(connect311(0xC2, cat({str("c"), str("u"), str("p")})), v311));
  EXPECT_TRUE(
      fails_with(connect311(0x42, cat({str("c"), str("p")})), v311, reason_code::protocol_error));
  // 5.0 allows a password without a user name (3.1.2.9).
  const auto c = packet_as<connect>(connect5(0x42, cat({no_props, str("c"), str("p")})));
  EXPECT_FALSE(c.username);
  EXPECT_EQ(c.password, "p");
}

TEST(DecodeConnect, FlaggedFieldsMustBePresentAndOnlyThose) {  // [MQTT-3.1.2-17], -19
  EXPECT_TRUE(fails_with(connect5(0x82, cat({no_props, str("c")})), v5,
                         reason_code::malformed_packet));  // user name flagged, missing
  EXPECT_TRUE(fails_with(connect5(0x02, cat({no_props, str("c"), str("u")})), v5,
                         reason_code::malformed_packet));  // user name present, not flagged
}

TEST(DecodeConnect, ClientIdMustBeUtf8) {  // [MQTT-3.1.3-4]
  EXPECT_TRUE(decodes(connect5(0x02, cat({no_props, str("\xC3\xA9")}))));
  EXPECT_TRUE(fails_with(connect5(0x02, cat({no_props, str("\xC3\x28")})), v5,
                         reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(connect311(0x02, str(std::string_view("a\0b", 3))), v311,
                         reason_code::malformed_packet));
  EXPECT_TRUE(decodes(connect5(0x02, cat({no_props, str("")}))));  // empty: session decides
}

TEST(DecodeConnect, UserNameMustBeUtf8) {  // [MQTT-3.1.3-12]
  EXPECT_TRUE(fails_with(connect5(0x82, cat({no_props, str("c"), str("\xFF")})), v5,
                         reason_code::malformed_packet));
  EXPECT_TRUE(decodes(connect5(0xC2, cat({no_props, str("c"), str("u"), str("\xFF")}))));
}

TEST(DecodeConnect, WillTopicMustBeATopicName) {  // [MQTT-3.1.3-11], 4.7.3
  EXPECT_TRUE(fails_with(connect5(0x06, cat({no_props, str("c"), no_props, str("w/#"), str("m")})),
                         v5, reason_code::topic_name_invalid));
  EXPECT_TRUE(fails_with(connect311(0x06, cat({str("c"), str("+"), str("m")})), v311,
                         reason_code::topic_name_invalid));
}

TEST(DecodeConnect, WillPayloadFormatIsChecked) {  // 3.1.3.2.3 -> 0x99
  const bytes pfi = {0x02, 0x01, 0x01};            // will properties: Payload Format Indicator 1
  EXPECT_TRUE(decodes(connect5(0x06, cat({no_props, str("c"), pfi, str("w"), str("ok")}))));
  EXPECT_TRUE(fails_with(connect5(0x06, cat({no_props, str("c"), pfi, str("w"), str("\xFF")})), v5,
                         reason_code::payload_format_invalid));
}

TEST(DecodeConnect, TrailingBytesAreMalformed) {
  EXPECT_TRUE(fails_with(connect5(0x02, cat({no_props, str("c"), {0x00}})), v5,
                         reason_code::malformed_packet));
  EXPECT_TRUE(
      fails_with(connect311(0x02, cat({str("c"), {0x00}})), v311, reason_code::malformed_packet));
}

TEST(DecodeConnect, PropertyValueRanges) {  // 3.1.2.11.x "It is a Protocol Error ..."
  struct prop_case {
    const char* name;
    bytes valid;
    bytes invalid;
  };
  const prop_case cases[] = {
      {"Receive Maximum 0", {0x21, 0x00, 0x01}, {0x21, 0x00, 0x00}},
      {"Maximum Packet Size 0", {0x27, 0x00, 0x00, 0x00, 0x01}, {0x27, 0x00, 0x00, 0x00, 0x00}},
      {"Request Problem Information 2", {0x17, 0x01}, {0x17, 0x02}},
      {"Request Response Information 2", {0x19, 0x00}, {0x19, 0x02}},
      {"Session Expiry Interval twice",
       {0x11, 0x00, 0x00, 0x00, 0x01},
       {0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x01}},
      // 3.1.2.11.10: Authentication Data without Authentication Method.
      {"Authentication Data alone", cat({{0x15}, str("m"), {0x16}, str("d")}),
       cat({{0x16}, str("d")})},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto with = [](const bytes& props) {
      return connect5(0x02, cat({{static_cast<std::uint8_t>(props.size())}, props, str("c")}));
    };
    EXPECT_TRUE(decodes(with(c.valid)));
    EXPECT_TRUE(fails_with(with(c.invalid), v5, reason_code::protocol_error));
  }
}

TEST(DecodeConnect, WillPropertiesAreSeparateFromConnectProperties) {  // 2.2.2.2
  const bytes delay = {0x05, 0x18, 0x00, 0x00, 0x00, 0x05};            // Will Delay Interval 5
  const auto c =
      packet_as<connect>(connect5(0x06, cat({no_props, str("c"), delay, str("w"), str("m")})));
  EXPECT_EQ(c.will->props.will_delay_interval, 5u);
  EXPECT_TRUE(fails_with(connect5(0x06, cat({delay, str("c"), no_props, str("w"), str("m")})), v5,
                         reason_code::malformed_packet));
  // Session Expiry Interval belongs to CONNECT, not to the will.
  const bytes expiry = {0x05, 0x11, 0x00, 0x00, 0x00, 0x05};
  EXPECT_TRUE(decodes(connect5(0x06, cat({expiry, str("c"), no_props, str("w"), str("m")}))));
  EXPECT_TRUE(fails_with(connect5(0x06, cat({no_props, str("c"), expiry, str("w"), str("m")})), v5,
                         reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// CONNACK

TEST(DecodeConnack, Mqtt311ReturnCode) {          // 3.1.1 3.2.2.3
  const auto c = packet_as<connack>({0x20, 0x02,  // CONNACK, length 2
                                     0x00,        // no session present
                                     0x05},       // 5: not authorized
                                    v311);
  EXPECT_FALSE(c.session_present);
  EXPECT_EQ(c.reason, 5);
  EXPECT_TRUE(packet_as<connack>({0x20, 0x02, 0x01, 0x00}, v311).session_present);
  EXPECT_TRUE(fails_with({0x20, 0x02, 0x00, 0x06}, v311, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0x20, 0x03, 0x00, 0x00, 0x00}, v311, reason_code::malformed_packet));
}

TEST(DecodeConnack, ReservedAcknowledgeFlagsAreMalformed) {  // [MQTT-3.2.2-1]
  EXPECT_TRUE(fails_with({0x20, 0x02, 0x02, 0x00}, v311, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0x20, 0x03, 0x80, 0x00, 0x00}, v5, reason_code::malformed_packet));
}

TEST(DecodeConnack, SessionPresentWithRefusalIsProtocolError) {  // [MQTT-3.2.2-6], 3.1.1 -4
  EXPECT_TRUE(fails_with({0x20, 0x02, 0x01, 0x05}, v311, reason_code::protocol_error));
  EXPECT_TRUE(decodes({0x20, 0x03, 0x01, 0x00, 0x00}, v5));
  EXPECT_TRUE(fails_with({0x20, 0x03, 0x01, 0x87, 0x00}, v5, reason_code::protocol_error));
}

TEST(DecodeConnack, ReasonCodeOutsideTheTableIsProtocolError) {  // [MQTT-3.2.2-8]
  EXPECT_EQ(packet_as<connack>({0x20, 0x03, 0x00, 0x87, 0x00}).reason, 0x87);
  EXPECT_TRUE(fails_with({0x20, 0x03, 0x00, 0x05, 0x00}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0x20, 0x03, 0x00, 0x8B, 0x00}, v5, reason_code::protocol_error));
}

TEST(DecodeConnack, PropertyLengthIsRequiredIn5) {  // [MQTT-2.2.2-1]
  EXPECT_TRUE(fails_with({0x20, 0x02, 0x00, 0x00}, v5, reason_code::malformed_packet));
}

TEST(DecodeConnack, PropertyValueRanges) {  // 3.2.2.3.x
  struct prop_case {
    const char* name;
    bytes valid;
    bytes invalid;
  };
  const prop_case cases[] = {
      {"Maximum QoS 2", {0x24, 0x01}, {0x24, 0x02}},  // "other than 0 or 1"
      {"Retain Available 2", {0x25, 0x00}, {0x25, 0x02}},
      {"Wildcard Subscription Available 2", {0x28, 0x01}, {0x28, 0x02}},
      {"Subscription Identifiers Available 2", {0x29, 0x01}, {0x29, 0x02}},
      {"Shared Subscription Available 2", {0x2A, 0x01}, {0x2A, 0x02}},
      {"Receive Maximum 0", {0x21, 0xFF, 0xFF}, {0x21, 0x00, 0x00}},
      {"Maximum Packet Size 0", {0x27, 0x00, 0x01, 0x00, 0x00}, {0x27, 0x00, 0x00, 0x00, 0x00}},
      {"Server Keep Alive twice", {0x13, 0x00, 0x01}, {0x13, 0x00, 0x01, 0x13, 0x00, 0x01}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto with = [](const bytes& props) {
      return pkt(0x20, cat({{0x00, 0x00, static_cast<std::uint8_t>(props.size())}, props}));
    };
    EXPECT_TRUE(decodes(with(c.valid)));
    EXPECT_TRUE(fails_with(with(c.invalid), v5, reason_code::protocol_error));
  }
}

// ---------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP

TEST(DecodeAck, ShortFormsIn5) {                                 // 3.4.2.1, 3.4.2.2.1
  const auto two = packet_as<puback>({0x40, 0x02, 0x00, 0x01});  // length 2: Success
  EXPECT_EQ(two.packet_id, 1);
  EXPECT_EQ(two.reason, reason_code::success);
  const auto three = packet_as<pubrec>({0x50, 0x03, 0x00, 0x02, 0x10});  // code, no props
  EXPECT_EQ(three.reason, reason_code::no_matching_subscribers);
  const auto four = packet_as<pubcomp>({0x70, 0x04, 0x00, 0x03, 0x92, 0x00});
  EXPECT_EQ(four.reason, reason_code::packet_identifier_not_found);
  const auto props = packet_as<pubrel>(pkt(0x62, cat({{0x00, 0x04, 0x00, 0x04, 0x1F}, str("r")})));
  EXPECT_EQ(props.props.reason_string, "r");
}

TEST(DecodeAck, Mqtt311AcksAreExactlyTwoBytes) {  // 3.1.1 3.4.1: Remaining Length 2
  EXPECT_EQ(packet_as<puback>({0x40, 0x02, 0x00, 0x09}, v311).packet_id, 9);
  EXPECT_TRUE(fails_with({0x40, 0x03, 0x00, 0x09, 0x00}, v311, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0x40, 0x01, 0x00}, v311, reason_code::malformed_packet));
}

TEST(DecodeAck, PacketIdZeroIsProtocolError) {  // 2.2.1: ids are non-zero
  for (const std::uint8_t first : {0x40, 0x50, 0x62, 0x70}) {
    SCOPED_TRACE(int{first});
    EXPECT_TRUE(decodes({first, 0x02, 0x00, 0x01}));
    EXPECT_TRUE(fails_with({first, 0x02, 0x00, 0x00}, v5, reason_code::protocol_error));
    EXPECT_TRUE(fails_with({first, 0x02, 0x00, 0x00}, v311, reason_code::protocol_error));
  }
}

TEST(DecodeAck, ReasonCodeMustBelongToThePacket) {       // [MQTT-3.4.2-1] ... [MQTT-3.7.2-1]
  EXPECT_TRUE(decodes({0x40, 0x03, 0x00, 0x01, 0x99}));  // PUBACK Payload format invalid
  EXPECT_TRUE(fails_with({0x40, 0x03, 0x00, 0x01, 0x92}, v5, reason_code::protocol_error));
  EXPECT_TRUE(decodes({0x62, 0x03, 0x00, 0x01, 0x92}));  // PUBREL id not found
  EXPECT_TRUE(fails_with({0x62, 0x03, 0x00, 0x01, 0x10}, v5, reason_code::protocol_error));
}

TEST(DecodeAck, TrailingBytesAfterPropertiesAreMalformed) {
  EXPECT_TRUE(
      fails_with({0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}, v5, reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// SUBSCRIBE

// A v5 SUBSCRIBE with packet id 1, `props` (with their length) and one filter + options.
bytes subscribe5(std::string_view filter, std::uint8_t options, const bytes& props = {0x00}) {
  return pkt(0x82, cat({{0x00, 0x01}, props, str(filter), {options}}));
}
bytes subscribe311(std::string_view filter, std::uint8_t options) {
  return pkt(0x82, cat({{0x00, 0x01}, str(filter), {options}}));
}

TEST(DecodeSubscribe, OptionsAndFilters) {      // 3.8.3.1
  const bytes in = {0x82, 0x0D,                 // SUBSCRIBE, length 13
                    0x00, 0x0A,                 // packet id 10
                    0x00,                       // no properties
                    0x00, 0x03, 'a', '/', '+',  // "a/+"
                    0x2E,                       // retain handling 2, RAP, no local, QoS 2
                    0x00, 0x01, '#',            // "#"
                    0x01};                      // QoS 1
  const auto s = packet_as<subscribe>(in);
  EXPECT_EQ(s.packet_id, 10);
  ASSERT_EQ(s.subscriptions.size(), 2u);
  EXPECT_EQ(s.subscriptions[0].filter, "a/+");
  EXPECT_EQ(s.subscriptions[0].max_qos, qos::exactly_once);
  EXPECT_TRUE(s.subscriptions[0].no_local);
  EXPECT_TRUE(s.subscriptions[0].retain_as_published);
  EXPECT_EQ(s.subscriptions[0].retain_handling, 2);
  EXPECT_EQ(s.subscriptions[1].filter, "#");
  EXPECT_EQ(s.subscriptions[1].max_qos, qos::at_least_once);
  EXPECT_FALSE(s.subscriptions[1].no_local);
}

TEST(DecodeSubscribe, NoPayloadIsProtocolError) {  // [MQTT-3.8.3-2], 3.1.1 [MQTT-3.8.3-3]
  EXPECT_TRUE(fails_with({0x82, 0x03, 0x00, 0x01, 0x00}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0x82, 0x02, 0x00, 0x01}, v311, reason_code::protocol_error));
}

TEST(DecodeSubscribe, PacketIdZeroIsProtocolError) {  // [MQTT-2.2.1-3]
  EXPECT_TRUE(fails_with(pkt(0x82, cat({{0x00, 0x00, 0x00}, str("a"), {0x00}})), v5,
                         reason_code::protocol_error));
}

TEST(DecodeSubscribe, SyntacticallyInvalidFilterIsMalformed) {  // 4.7.1, 4.8.2
  // mosquitto closes with Malformed Packet too; SUBACK 0x8F is for well-formed filters
  // the server will not accept.
  for (const char* ok :
       {"#", "+", "a/#", "+/+", "/", "a//b", "$SYS/#", "$share/g/a/+", "$share/g/#", "$share"}) {
    SCOPED_TRACE(ok);
    EXPECT_TRUE(decodes(subscribe5(ok, 0x00)));
  }
  for (const char* bad : {"", "a/#/b", "a#", "#/", "a+", "+a/b", "$share/g", "$share//a",
                          "$share/g+/a", "$share/g/"}) {
    SCOPED_TRACE(bad);
    EXPECT_TRUE(fails_with(subscribe5(bad, 0x00), v5, reason_code::malformed_packet));
    EXPECT_TRUE(fails_with(subscribe311(bad, 0x00), v311, reason_code::malformed_packet));
  }
}

TEST(DecodeSubscribe, ReservedOptionBitsAreMalformed) {  // [MQTT-3.8.3-5]
  EXPECT_TRUE(decodes(subscribe5("a", 0x2E)));           // every defined bit set
  EXPECT_TRUE(fails_with(subscribe5("a", 0x40), v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(subscribe5("a", 0x80), v5, reason_code::malformed_packet));
  // 3.1.1 [MQTT-3.8.3-4]: bits 7-2 are all reserved.
  EXPECT_TRUE(decodes(subscribe311("a", 0x02), v311));
  EXPECT_TRUE(fails_with(subscribe311("a", 0x04), v311, reason_code::malformed_packet));
}

TEST(DecodeSubscribe, MaximumQos3) {  // 3.8.3.1 (PE); 3.1.1 [MQTT-3.8.3-4] (malformed)
  EXPECT_TRUE(decodes(subscribe5("a", 0x02)));
  EXPECT_TRUE(fails_with(subscribe5("a", 0x03), v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with(subscribe311("a", 0x03), v311, reason_code::malformed_packet));
}

TEST(DecodeSubscribe, RetainHandling3IsProtocolError) {  // 3.8.3.1
  EXPECT_TRUE(decodes(subscribe5("a", 0x20)));
  EXPECT_TRUE(fails_with(subscribe5("a", 0x30), v5, reason_code::protocol_error));
}

TEST(DecodeSubscribe, NoLocalOnSharedSubscriptionIsProtocolError) {  // [MQTT-3.8.3-4]
  EXPECT_TRUE(decodes(subscribe5("$share/g/a", 0x00)));
  EXPECT_TRUE(decodes(subscribe5("a", 0x04)));
  EXPECT_TRUE(fails_with(subscribe5("$share/g/a", 0x04), v5, reason_code::protocol_error));
}

TEST(DecodeSubscribe, SubscriptionIdentifier) {  // 3.8.2.1.2
  const auto s = packet_as<subscribe>(subscribe5("a", 0x00, {0x03, 0x0B, 0xFF, 0x01}));
  EXPECT_EQ(s.props.subscription_identifiers, std::vector<std::uint32_t>{255});
  EXPECT_TRUE(fails_with(subscribe5("a", 0x00, {0x02, 0x0B, 0x00}), v5,
                         reason_code::protocol_error));  // value 0
  EXPECT_TRUE(fails_with(subscribe5("a", 0x00, {0x04, 0x0B, 0x01, 0x0B, 0x02}), v5,
                         reason_code::protocol_error));  // more than once
  EXPECT_TRUE(fails_with(subscribe5("a", 0x00, {0x03, 0x23, 0x00, 0x01}), v5,
                         reason_code::malformed_packet));  // Topic Alias: not for SUBSCRIBE
}

TEST(DecodeSubscribe, FilterWithoutOptionsIsMalformed) {
  EXPECT_TRUE(fails_with(pkt(0x82, cat({{0x00, 0x01, 0x00}, str("a"), {0x00}, str("b")})), v5,
                         reason_code::malformed_packet));
}

TEST(DecodeSubscribe, FilterMustBeUtf8) {  // [MQTT-3.8.3-1]
  EXPECT_TRUE(fails_with(subscribe5("a\xFF", 0x00), v5, reason_code::malformed_packet));
}

// ---------------------------------------------------------------------------------------
// SUBACK, UNSUBSCRIBE, UNSUBACK

TEST(DecodeSuback, Mqtt311ReturnCodes) {  // 3.1.1 [MQTT-3.9.3-2]
  const auto s = packet_as<suback>({0x90, 0x06, 0x00, 0x05, 0x00, 0x01, 0x02, 0x80}, v311);
  EXPECT_EQ(s.packet_id, 5);
  EXPECT_EQ(s.reasons, (std::vector<std::uint8_t>{0x00, 0x01, 0x02, 0x80}));
  EXPECT_TRUE(fails_with({0x90, 0x03, 0x00, 0x05, 0x03}, v311, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0x90, 0x03, 0x00, 0x05, 0x8F}, v311, reason_code::protocol_error));
}

TEST(DecodeSuback, Mqtt5ReasonCodes) {  // 3.9.3
  const auto s = packet_as<suback>({0x90, 0x05, 0x00, 0x05, 0x00, 0x8F, 0xA2});
  EXPECT_EQ(s.reasons, (std::vector<std::uint8_t>{0x8F, 0xA2}));
  EXPECT_TRUE(fails_with({0x90, 0x04, 0x00, 0x05, 0x00, 0x03}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0x90, 0x03, 0x00, 0x05, 0x00}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0x90, 0x04, 0x00, 0x00, 0x00, 0x00}, v5, reason_code::protocol_error));
}

TEST(DecodeUnsubscribe, FiltersAndRules) {  // 3.10.3
  const auto u = packet_as<unsubscribe>(pkt(0xA2, cat({{0x00, 0x02, 0x00}, str("a/#"), str("b")})));
  EXPECT_EQ(u.filters, (std::vector<std::string>{"a/#", "b"}));
  // [MQTT-3.10.3-2] (both versions): at least one filter.
  EXPECT_TRUE(fails_with({0xA2, 0x03, 0x00, 0x02, 0x00}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0xA2, 0x02, 0x00, 0x02}, v311, reason_code::protocol_error));
  EXPECT_TRUE(fails_with(pkt(0xA2, cat({{0x00, 0x02, 0x00}, str("a/#/b")})), v5,
                         reason_code::malformed_packet));
  EXPECT_TRUE(fails_with(pkt(0xA2, cat({{0x00, 0x00, 0x00}, str("a")})), v5,
                         reason_code::protocol_error));  // packet id 0
}

TEST(DecodeUnsuback, Mqtt311HasNoPayload) {  // 3.1.1 3.11.3
  EXPECT_EQ(packet_as<unsuback>({0xB0, 0x02, 0x00, 0x03}, v311).packet_id, 3);
  EXPECT_TRUE(fails_with({0xB0, 0x03, 0x00, 0x03, 0x00}, v311, reason_code::malformed_packet));
}

TEST(DecodeUnsuback, PacketIdZeroIsProtocolError) {  // 2.2.1
  EXPECT_TRUE(fails_with({0xB0, 0x02, 0x00, 0x00}, v311, reason_code::protocol_error));
  EXPECT_TRUE(decodes({0xB0, 0x04, 0x00, 0x01, 0x00, 0x00}, v5));
  EXPECT_TRUE(fails_with({0xB0, 0x04, 0x00, 0x00, 0x00, 0x00}, v5, reason_code::protocol_error));
}

TEST(DecodeUnsuback, Mqtt5ReasonCodes) {  // 3.11.3
  const auto u = packet_as<unsuback>({0xB0, 0x05, 0x00, 0x03, 0x00, 0x00, 0x11});
  EXPECT_EQ(u.reasons,
            (std::vector<reason_code>{reason_code::success, reason_code::no_subscription_existed}));
  EXPECT_TRUE(fails_with({0xB0, 0x04, 0x00, 0x03, 0x00, 0x10}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0xB0, 0x03, 0x00, 0x03, 0x00}, v5, reason_code::protocol_error));
}

// ---------------------------------------------------------------------------------------
// PINGREQ, PINGRESP, DISCONNECT, AUTH

TEST(DecodePing, MustBeEmpty) {  // 3.12, 3.13: no variable header, no payload
  EXPECT_TRUE(decodes({0xD0, 0x00}, v311));
  EXPECT_TRUE(fails_with({0xC0, 0x01, 0x00}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0xD0, 0x01, 0x00}, v311, reason_code::malformed_packet));
}

TEST(DecodeDisconnect, ShortFormsIn5) {  // 3.14.2.1, 3.14.2.2.1
  EXPECT_EQ(packet_as<disconnect>({0xE0, 0x00}).reason, reason_code::normal_disconnection);
  EXPECT_EQ(packet_as<disconnect>({0xE0, 0x01, 0x04}).reason,
            reason_code::disconnect_with_will_message);
  const auto d = packet_as<disconnect>({0xE0, 0x07, 0x8E, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3C});
  EXPECT_EQ(d.reason, reason_code::session_taken_over);
  EXPECT_EQ(d.props.session_expiry_interval, 60u);
  EXPECT_TRUE(fails_with({0xE0, 0x01, 0x03}, v5, reason_code::protocol_error));
  EXPECT_TRUE(fails_with({0xE0, 0x01, 0x84}, v5, reason_code::protocol_error));  // CONNACK only
  EXPECT_TRUE(fails_with({0xE0, 0x04, 0x00, 0x02, 0x01, 0x01}, v5,
                         reason_code::malformed_packet));  // PFI: not for DISCONNECT
}

TEST(DecodeDisconnect, Mqtt311IsEmpty) {  // 3.1.1 3.14
  EXPECT_TRUE(decodes({0xE0, 0x00}, v311));
  EXPECT_TRUE(fails_with({0xE0, 0x01, 0x00}, v311, reason_code::malformed_packet));
}

TEST(DecodeAuth, Forms) {  // 3.15.2.1
  EXPECT_EQ(packet_as<auth>({0xF0, 0x00}).reason, reason_code::success);
  const auto a = packet_as<auth>(pkt(0xF0, cat({{0x18, 0x04, 0x15}, str("m")})));
  EXPECT_EQ(a.reason, reason_code::continue_authentication);
  EXPECT_EQ(a.props.authentication_method, "m");
  EXPECT_TRUE(fails_with({0xF0, 0x01, 0x18}, v5, reason_code::malformed_packet));
  EXPECT_TRUE(fails_with({0xF0, 0x02, 0x87, 0x00}, v5, reason_code::protocol_error));
}

}  // namespace
