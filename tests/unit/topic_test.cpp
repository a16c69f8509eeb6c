// Topic names, filters, matching (5.0 section 4.7, 3.1.1 section 4.7), shared
// subscriptions (4.8.2) and the UTF-8 rules (1.5.4).
#include "mqtt/topic.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using namespace natter::mqtt;
using namespace std::string_literals;

TEST(Utf8, WellFormed) {  // [MQTT-1.5.4-1]
  for (const std::string& s : {""s, "plain ascii, longer than eight bytes"s,
                               "\xC3\xA9"s,          // U+00E9
                               "\xE2\x82\xAC"s,      // U+20AC
                               "\xED\x9F\xBF"s,      // U+D7FF, just below the surrogates
                               "\xEE\x80\x80"s,      // U+E000, just above them
                               "\xEF\xBB\xBF"s,      // U+FEFF (allowed, [MQTT-1.5.4-3])
                               "\xF0\x9F\x98\x80"s,  // U+1F600
                               "\xF4\x8F\xBF\xBF"s,  // U+10FFFF
                               "\x7F\x01"s}) {       // controls: SHOULD NOT, still valid
    EXPECT_TRUE(is_valid_utf8(s)) << s;
  }
}

TEST(Utf8, IllFormed) {  // [MQTT-1.5.4-1], [MQTT-1.5.4-2]
  for (const std::string& s : {"\x00"s, "abcdefgh\x00"s, "abcdefghijk\x00mnop"s,  // U+0000
                               "\xC0\x80"s,                                       // overlong U+0000
                               "\xC1\xBF"s,                                       // overlong
                               "\xE0\x9F\xBF"s,                                   // overlong 3-byte
                               "\xF0\x8F\xBF\xBF"s,                               // overlong 4-byte
                               "\xED\xA0\x80"s,      // U+D800 surrogate
                               "\xED\xBF\xBF"s,      // U+DFFF surrogate
                               "\xF4\x90\x80\x80"s,  // above U+10FFFF
                               "\xF5\x80\x80\x80"s, "\xFF"s,
                               "\x80"s,              // lone continuation
                               "\xC3"s,              // truncated
                               "abcdefgh\xE2\x82"s,  // truncated after the fast path
                               "\xC3\x28"s}) {       // bad continuation
    EXPECT_FALSE(is_valid_utf8(s)) << testing::PrintToString(s);
  }
}

TEST(TopicName, Validity) {  // [MQTT-4.7.0-1], [MQTT-4.7.3-1], [MQTT-4.7.3-2]
  for (const char* ok :
       {"a", "/", "a/b", "/finance", "a//b", "$SYS/broker/load", " ", "sport/tennis/player1"}) {
    EXPECT_TRUE(is_valid_topic_name(ok)) << ok;
  }
  for (const std::string& bad : {""s, "#"s, "+"s, "a/+"s, "a/#"s, "a+b"s, "a\0b"s,
                                 "abcdefg+/xyz"s,             // in the first 8-byte word
                                 "abcdefgh/ijklmno#"s,        // at the end of the second
                                 "abcdefgh/ijklmnop/+"s,      // in the tail
                                 "abcdefgh/ijkl\0mnopq"s}) {  // U+0000 inside a word
    EXPECT_FALSE(is_valid_topic_name(bad)) << bad;
  }
  EXPECT_TRUE(is_valid_topic_name(std::string(65535, 'a')));  // [MQTT-4.7.3-3]
  EXPECT_FALSE(is_valid_topic_name(std::string(65536, 'a')));
}

TEST(TopicFilter, Validity) {  // [MQTT-4.7.1-1], [MQTT-4.7.1-2], [MQTT-4.7.3-1]
  for (const char* ok : {"#", "+", "+/+", "/+", "+/", "sport/#", "sport/tennis/#", "sport/+",
                         "sport/+/player1", "+/tennis/#", "$SYS/#", "a//b", "/", "$share"}) {
    EXPECT_TRUE(is_valid_topic_filter(ok)) << ok;
  }
  for (const std::string& bad : {""s, "sport/tennis#"s, "sport/tennis/#/ranking"s, "#/"s, "##"s,
                                 "sport+"s, "+sport"s, "a/b+/c"s, "++"s, "a\0b"s}) {
    EXPECT_FALSE(is_valid_topic_filter(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_topic_filter(std::string(65536, 'a')));
}

TEST(SharedFilter, Validity) {  // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
  for (const char* ok :
       {"$share/g/a", "$share/g/a/+", "$share/g/#", "$share/group-1/+/b", "$share/g//"}) {
    EXPECT_TRUE(is_valid_topic_filter(ok)) << ok;
  }
  for (const char* bad : {"$share/", "$share/g", "$share//a", "$share/g/", "$share/g+/a",
                          "$share/#/a", "$share/+/a", "$share/g/a#"}) {
    EXPECT_FALSE(is_valid_topic_filter(bad)) << bad;
  }
}

TEST(SharedFilter, Parse) {
  const auto s = parse_shared_filter("$share/g/a/+");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->share_name, "g");
  EXPECT_EQ(s->filter, "a/+");
  const auto hash = parse_shared_filter("$share/consumers/#");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->share_name, "consumers");
  EXPECT_EQ(hash->filter, "#");
  EXPECT_FALSE(parse_shared_filter("a/b"));
  EXPECT_FALSE(parse_shared_filter("$share"));
  EXPECT_FALSE(parse_shared_filter("$SHARE/g/a"));  // case matters
  EXPECT_FALSE(parse_shared_filter("$share/g"));    // no '/' after the ShareName
  EXPECT_FALSE(parse_shared_filter("$sharex/g/a"));
}

struct match_case {
  const char* filter;
  const char* topic;
  bool matches;
};

// The examples of 5.0 sections 4.7.1.2, 4.7.1.3 and 4.7.2, plus edge cases.
const match_case match_cases[] = {
    {"sport/tennis/player1/#", "sport/tennis/player1", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
    {"sport/#", "sport", true},  // '#' includes the parent level
    {"sport/#", "sports", false},
    {"#", "sport", true},
    {"#", "/", true},
    {"#", "a/b/c", true},
    {"sport/tennis/+", "sport/tennis/player1", true},
    {"sport/tennis/+", "sport/tennis/player2", true},
    {"sport/tennis/+", "sport/tennis/player1/ranking", false},
    {"sport/+", "sport", false},
    {"sport/+", "sport/", true},
    {"+", "sport", true},
    {"+", "/finance", false},
    {"+/+", "/finance", true},
    {"/+", "/finance", true},
    {"+/tennis/#", "sport/tennis", true},
    {"+/tennis/#", "sport/tennis/x/y", true},
    {"a/b", "a/b", true},
    {"a/b", "a/b/", false},
    {"a/b/", "a/b", false},
    {"a//b", "a//b", true},
    {"a/+/b", "a//b", true},
    {"A/b", "a/b", false},  // [MQTT-4.7.3-4] no normalization
    // [MQTT-4.7.2-1] $-topics are not matched by a leading wildcard.
    {"#", "$SYS", false},
    {"#", "$SYS/broker/uptime", false},
    {"+/monitor/Clients", "$SYS/monitor/Clients", false},
    {"+", "$SYS", false},
    {"$SYS/#", "$SYS/monitor/Clients", true},
    {"$SYS/#", "$SYS", true},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
    {"$SYS/+", "$SYS/a/b", false},
    {"a/#", "a/$x", true},  // only a leading '$' is special
};

TEST(TopicMatches, Table) {
  for (const auto& c : match_cases) {
    EXPECT_EQ(topic_matches(c.filter, c.topic), c.matches) << c.filter << " vs " << c.topic;
  }
}

}  // namespace
