// Mosquitto 2.0 password files, read by the server and written by natter-passwd.
//
// One user per line, `USERNAME:HASH`, where HASH is one of
//   $7$ITERATIONS$SALT$HASH  PBKDF2-HMAC-SHA512 (mosquitto_passwd's default since 2.0)
//   $6$SALT$HASH             SHA-512 of the password followed by the salt (mosquitto 1.x)
// SALT is 12 bytes and HASH 64 bytes, both in standard base64 with padding: exactly what
// mosquitto_passwd writes and what the mosquitto broker accepts (its security_default.c checks
// both lengths), so the same file serves either broker. Blank lines and lines whose first
// non-blank character is '#' are ignored; blanks around USERNAME and HASH are trimmed.
//
// Where Natter is stricter than mosquitto: mosquitto logs and drops a bad entry (a plain-text
// password, a broken hash, a line without ':') and starts anyway; password_db::load refuses the
// whole file and names FILE:LINE, so a typo cannot silently lock a user out. Duplicate users
// are refused too (mosquitto keeps one of them, which one depends on its hash table).
//
// Threads: a loaded password_db is immutable, so verify() may run on many threads at once.
// verify() is deliberately slow (PBKDF2 with ~210k iterations takes ~0.1 s of CPU): call it on
// a worker pool, never on a network thread. Reload by loading a new db and swapping a
// shared_ptr<const password_db>.
#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/load_error.hpp"

namespace natter::auth {

// The number after the first '$'.
enum class hash_type { sha512 = 6, sha512_pbkdf2 = 7 };

// OWASP's figure for PBKDF2-HMAC-SHA512. mosquitto_passwd 2.0.11 uses 101, and the mosquitto
// broker accepts any count >= 1, so lines written with this default work there too.
inline constexpr int default_iterations = 210'000;
inline constexpr std::size_t salt_size = 12;
inline constexpr std::size_t hash_size = 64;

struct password_hash {
  hash_type type = hash_type::sha512_pbkdf2;
  int iterations = 0;  // sha512_pbkdf2 only
  std::array<unsigned char, salt_size> salt{};
  std::array<unsigned char, hash_size> hash{};
};

// Parses the text after "USERNAME:"; nullopt unless it is a complete, well-formed hash.
std::optional<password_hash> parse_hash(std::string_view text);

// The inverse of parse_hash: "$7$210000$<salt>$<hash>".
std::string format_hash(const password_hash& h);

// A new hash of `password` with a fresh random salt (RAND_bytes). Fails only when the random
// generator or the digest fails, or when iterations < 1 for sha512_pbkdf2.
boost::system::result<password_hash> make_hash(std::string_view password,
                                               hash_type type = hash_type::sha512_pbkdf2,
                                               int iterations = default_iterations);

// make_hash + format_hash: the HASH field of a new line.
boost::system::result<std::string> hash_new(std::string_view password,
                                            int iterations = default_iterations,
                                            hash_type type = hash_type::sha512_pbkdf2);

// Does `password` produce `h`? Compares in constant time (CRYPTO_memcmp). Blocking: see above.
bool hash_matches(const password_hash& h, std::string_view password);

// How the server and natter-passwd read one line (without its '\n'; a trailing '\r' is blank).
struct password_line {
  enum kind_type { blank, comment, entry, corrupt };
  kind_type kind = blank;
  std::string_view username;  // entry: trimmed text before the first ':'
  std::string_view secret;    // entry: trimmed text after it (a hash, or plain text before -U)
};
password_line classify_line(std::string_view line);

class password_db {
 public:
  // An empty db: every verify() fails.
  password_db();

  // Reads and checks the whole file. Errors read "PATH: ..." or "PATH:LINE: ...".
  static load_result<password_db> load(const std::string& path);
  // The same from text in memory; `name` stands for PATH in messages.
  static load_result<password_db> parse(std::string_view text, std::string_view name);

  // True when `username` is in the file and `password` matches its hash. An unknown user costs
  // the same as a known one (a hash is computed against a dummy entry made like the file's own
  // entries), so the time taken does not tell a client which usernames exist. Blocking.
  //
  // The password is compared as the bytes the client sent. mosquitto hashes only up to the
  // first NUL byte (it uses strlen); natter-passwd cannot write a password containing NUL, so
  // such a password simply never matches here.
  bool verify(std::string_view username, std::string_view password) const;

  bool contains(std::string_view username) const;
  std::vector<std::string> usernames() const;
  // True when `username` has the same hash here as in `other` (both present).
  bool same_entry(const password_db& other, std::string_view username) const;
  std::size_t size() const noexcept { return users_.size(); }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, password_hash, string_hash, std::equal_to<>> users_;
  password_hash dummy_;
};

}  // namespace natter::auth
