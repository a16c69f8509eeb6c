// Fuzz target: Mosquitto ACL files (server/auth/acl) and topic matching.
//
// Input: ACL text, then optionally a NUL byte and probe lines: a username ("\x01" alone for
// an anonymous client), a client id, then topics. The text loads or is refused with a
// "NAME:LINE: ..." message. For what loads, decisions keep mosquitto's fixed rules whatever
// the file says: $SYS is never writable, $share never readable or writable, subscriptions are
// always granted, and a topic holding a wildcard is never granted when a file is in force.
//
// Topic matching three ways: for every pair of probe lines that is a valid filter (not
// $share) and a valid topic name, the ACL matcher, the broker's matcher (protocol/mqtt) and a
// plain level-by-level reference written from MQTT 5.0 section 4.7 agree.
#include "auth/acl.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "mqtt/topic.hpp"

namespace {

using namespace natter::auth;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto i = s.find(sep);
    out.push_back(s.substr(0, i));
    if (i == std::string_view::npos) return out;
    s.remove_prefix(i + 1);
  }
}

bool reference_match(std::string_view filter, std::string_view topic) {
  // [MQTT-4.7.2-1]: a filter starting with a wildcard does not match a '$' topic.
  if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;
  const auto f = split(filter, '/');
  const auto t = split(topic, '/');
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] == "#") return true;  // this level and below, the parent included (4.7.1.2)
    if (i >= t.size()) return false;
    if (f[i] != "+" && f[i] != t[i]) return false;
  }
  return f.size() == t.size();
}

void check_matchers(std::string_view filter, std::string_view topic) {
  if (!natter::mqtt::is_valid_topic_filter(filter) || filter.starts_with("$share/")) return;
  if (!natter::mqtt::is_valid_topic_name(topic)) return;
  const bool expected = reference_match(filter, topic);
  NATTER_FUZZ_CHECK(natter::mqtt::topic_matches(filter, topic) == expected);
  NATTER_FUZZ_CHECK(acl_topic_matches(filter, topic) == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  std::vector<std::string_view> probes;
  if (nul != std::string_view::npos) probes = split(input.substr(nul + 1), '\n');
  if (probes.size() > 32) probes.resize(32);  // pairs are checked: keep it quick

  for (const auto f : probes)
    for (const auto t : probes) check_matchers(f, t);

  auto db = acl_db::parse(text, "fuzz.acl");
  if (!db) {
    NATTER_FUZZ_CHECK(db.error().message.starts_with("fuzz.acl:"));
    return 0;
  }
  NATTER_FUZZ_CHECK(db->restricted());

  std::optional<std::string_view> username;
  std::string_view client_id = "client";
  std::vector<std::string_view> topics = {"$SYS/broker/load", "$share/g/a", "a/b",
                                          "chat/alice/inbox"};
  if (probes.size() >= 1 && probes[0] != "\x01") username = probes[0];
  if (probes.size() >= 2) client_id = probes[1];
  for (std::size_t i = 2; i < probes.size(); ++i) topics.push_back(probes[i]);

  const client_acl c = db->for_client(username, client_id);
  for (const auto t : topics) {
    const bool read = c.can_read(t), write = c.can_write(t);
    NATTER_FUZZ_CHECK(read == db->check(username, client_id, t, access::read));
    NATTER_FUZZ_CHECK(write == db->check(username, client_id, t, access::write));
    NATTER_FUZZ_CHECK(c.can_subscribe(t));
    if (t.starts_with("$SYS")) NATTER_FUZZ_CHECK(!write);
    if (t.starts_with("$share")) NATTER_FUZZ_CHECK(!read && !write);
    if (t.find_first_of("+#") != std::string_view::npos) NATTER_FUZZ_CHECK(!read && !write);
    if (t.empty()) NATTER_FUZZ_CHECK(!read && !write);
  }
  return 0;
}
