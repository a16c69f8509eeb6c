// Reason codes as error_code values (error.hpp).
#include "mqtt/error.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace natter::mqtt;

TEST(ReasonCode, NamesFromTheSpec) {  // 5.0 section 2.4, Table 2-6
  EXPECT_EQ(to_string(reason_code::success), "Success");
  EXPECT_EQ(to_string(reason_code::granted_qos_1), "Granted QoS 1");
  EXPECT_EQ(to_string(reason_code::malformed_packet), "Malformed Packet");
  EXPECT_EQ(to_string(reason_code::protocol_error), "Protocol Error");
  EXPECT_EQ(to_string(reason_code::bad_user_name_or_password), "Bad User Name or Password");
  EXPECT_EQ(to_string(reason_code::packet_too_large), "Packet too large");
  EXPECT_EQ(to_string(reason_code::payload_format_invalid), "Payload format invalid");
  EXPECT_EQ(to_string(reason_code::wildcard_subscriptions_not_supported),
            "Wildcard Subscriptions not supported");
  EXPECT_EQ(to_string(static_cast<reason_code>(0x03)), "Unknown reason code");
  // Every code from 0x80 to 0xA2 is defined.
  for (int v = 0x80; v <= 0xA2; ++v)
    EXPECT_NE(to_string(static_cast<reason_code>(v)), "Unknown reason code") << v;
}

TEST(ReasonCode, IsFailure) {
  EXPECT_FALSE(is_failure(reason_code::no_matching_subscribers));
  EXPECT_TRUE(is_failure(reason_code::unspecified_error));
}

TEST(ErrorCategory, Names) {
  EXPECT_STREQ(reason_category().name(), "natter.mqtt.reason");
  EXPECT_STREQ(codec_category().name(), "natter.mqtt.codec");
  const std::error_code ec = reason_code::topic_alias_invalid;  // is_error_code_enum
  EXPECT_EQ(ec.value(), 0x94);
  EXPECT_EQ(ec.message(), "Topic Alias invalid");
  const std::error_code more = codec_errc::need_more_bytes;
  EXPECT_EQ(more.category(), codec_category());
  EXPECT_EQ(more.message(), "need more bytes");
  EXPECT_NE(more, make_error_code(static_cast<reason_code>(1)));  // distinct categories
}

TEST(ErrorCategory, ToReasonCode) {
  EXPECT_EQ(to_reason_code(make_error_code(reason_code::quota_exceeded)),
            reason_code::quota_exceeded);
  EXPECT_EQ(to_reason_code({}), reason_code::success);
  EXPECT_EQ(to_reason_code(make_error_code(codec_errc::need_more_bytes)),
            reason_code::malformed_packet);
  EXPECT_EQ(to_reason_code(std::make_error_code(std::errc::connection_reset)),
            reason_code::malformed_packet);
}

TEST(ConnackV311, Mapping) {  // 3.1.1 3.2.2.3 return codes
  struct c {
    reason_code in;
    connack_v311 out;
  };
  for (const auto& [in, out] : {
           c{reason_code::success, connack_v311::accepted},
           c{reason_code::unsupported_protocol_version,
             connack_v311::unacceptable_protocol_version},
           c{reason_code::client_identifier_not_valid, connack_v311::identifier_rejected},
           c{reason_code::bad_user_name_or_password, connack_v311::bad_user_name_or_password},
           c{reason_code::not_authorized, connack_v311::not_authorized},
           c{reason_code::server_unavailable, connack_v311::server_unavailable},
           c{reason_code::server_busy, connack_v311::server_unavailable},
           c{reason_code::banned, connack_v311::not_authorized},
           c{reason_code::bad_authentication_method, connack_v311::not_authorized},
           c{reason_code::unspecified_error, connack_v311::server_unavailable},
           c{reason_code::malformed_packet, connack_v311::server_unavailable},
           c{reason_code::quota_exceeded, connack_v311::server_unavailable},
           c{reason_code::server_moved, connack_v311::server_unavailable},
           c{reason_code::connection_rate_exceeded, connack_v311::server_unavailable},
       }) {
    EXPECT_EQ(to_v311_connack(in), out) << to_string(in);
  }
}

}  // namespace
