// Fuzz target: Mosquitto password files (server/auth/password_file). Any text loads or is
// refused with a "NAME:LINE: ..." message; what loads has each user once. Every hash that
// parses prints back (format_hash) to text that parses to the same hash. verify() is not
// called: PBKDF2 with an iteration count from the input would only measure OpenSSL.
#include "auth/password_file.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"

namespace {

using namespace natter::auth;

bool same(const password_hash& a, const password_hash& b) {
  return a.type == b.type && a.iterations == b.iterations && a.salt == b.salt && a.hash == b.hash;
}

void check_hash_text(std::string_view text) {
  const auto h = parse_hash(text);
  if (!h) return;
  const std::string printed = format_hash(*h);
  const auto again = parse_hash(printed);
  NATTER_FUZZ_CHECK(again && same(*h, *again));
  NATTER_FUZZ_CHECK(format_hash(*again) == printed);
  NATTER_FUZZ_CHECK(h->type == hash_type::sha512 || h->iterations >= 1);
}

bool blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_hash_text(text);

  std::string_view rest = text;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    const password_line l = classify_line(line);
    if (l.kind != password_line::entry) continue;
    NATTER_FUZZ_CHECK(!l.username.empty() && !l.secret.empty());
    NATTER_FUZZ_CHECK(!blank(l.username.front()) && !blank(l.username.back()));
    NATTER_FUZZ_CHECK(!blank(l.secret.front()) && !blank(l.secret.back()));
    NATTER_FUZZ_CHECK(l.username.find(':') == std::string_view::npos);
    check_hash_text(l.secret);
  }

  auto db = password_db::parse(text, "fuzz.passwd");
  if (db) {
    const auto users = db->usernames();
    NATTER_FUZZ_CHECK(users.size() == db->size());
    for (const auto& u : users) {
      NATTER_FUZZ_CHECK(db->contains(u));
      NATTER_FUZZ_CHECK(db->same_entry(*db, u));
    }
  } else {
    NATTER_FUZZ_CHECK(db.error().message.starts_with("fuzz.passwd:"));
  }
  return 0;
}
