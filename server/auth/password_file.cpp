// Password hashing with OpenSSL 3 (libcrypto) and the password file reader. The formats are
// mosquitto's (src/password_mosq.c, src/security_default.c in 2.0): see password_file.hpp.
#include "auth/password_file.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <boost/system/errc.hpp>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

namespace natter::auth {
namespace {

constexpr std::string_view blanks = " \t\r\n\v\f";

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(blanks);
  return s.substr(first, last - first + 1);
}

// Standard base64 with padding, as OpenSSL's BIO_f_base64 writes it for mosquitto_passwd.
std::string base64_encode(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Decodes exactly `out.size()` bytes from canonical base64; false for anything else (wrong
// length, stray characters, missing or misplaced padding).
template <std::size_t N>
bool base64_decode_exact(std::string_view in, std::array<unsigned char, N>& out) {
  if (in.size() != 4 * ((N + 2) / 3)) return false;
  const std::size_t pad = (3 - N % 3) % 3;
  std::size_t o = 0;
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int v[4];
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (last && k >= 4 - pad) {  // padding positions hold '=' and nothing else
        if (c != '=') return false;
        v[k] = 0;
        continue;
      }
      v[k] = base64_value(c);  // -1 for '=' too
      if (v[k] < 0) return false;
    }
    const unsigned triple =
        (unsigned(v[0]) << 18) | (unsigned(v[1]) << 12) | (unsigned(v[2]) << 6) | unsigned(v[3]);
    const unsigned char bytes[3] = {static_cast<unsigned char>(triple >> 16),
                                    static_cast<unsigned char>(triple >> 8),
                                    static_cast<unsigned char>(triple)};
    for (std::size_t k = 0; k < 3 && o < N; ++k) out[o++] = bytes[k];
    // Canonical form only: the bits under the padding must be zero.
    if (last && pad > 0 && (triple & ((1u << (8 * pad)) - 1)) != 0) return false;
  }
  return o == N;
}

// Computes the hash of `password` with h's type, salt and iterations.
bool compute(const password_hash& h, std::string_view password,
             std::array<unsigned char, hash_size>& out) {
  if (h.type == hash_type::sha512) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (ctx == nullptr) return false;
    unsigned int len = 0;
    const bool ok = EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
                    EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
                    EVP_DigestUpdate(ctx, h.salt.data(), h.salt.size()) == 1 &&
                    EVP_DigestFinal_ex(ctx, out.data(), &len) == 1 && len == out.size();
    EVP_MD_CTX_free(ctx);
    return ok;
  }
  if (h.iterations < 1 || password.size() > INT_MAX) return false;
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), h.salt.data(),
                           static_cast<int>(h.salt.size()), h.iterations, EVP_sha512(),
                           static_cast<int>(out.size()), out.data()) == 1;
}

std::string at(std::string_view name, std::size_t line) {
  std::string s(name);
  s += ':';
  s += std::to_string(line);
  s += ": ";
  return s;
}

}  // namespace

std::optional<password_hash> parse_hash(std::string_view text) {
  // "$7$ITER$SALT$HASH" or "$6$SALT$HASH": split on '$' after the leading one.
  if (text.size() < 3 || text[0] != '$' || text[2] != '$') return std::nullopt;
  password_hash h;
  std::string_view rest = text.substr(3);
  if (text[1] == '7') {
    h.type = hash_type::sha512_pbkdf2;
    const auto d = rest.find('$');
    if (d == std::string_view::npos) return std::nullopt;
    const std::string_view iter = rest.substr(0, d);
    // Digits only: mosquitto's atoi() would read "12abc" as 12; nobody writes that on purpose.
    if (iter.empty() || iter.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
    const auto [p, ec] = std::from_chars(iter.data(), iter.data() + iter.size(), h.iterations);
    if (ec != std::errc{} || p != iter.data() + iter.size() || h.iterations < 1)
      return std::nullopt;
    rest = rest.substr(d + 1);
  } else if (text[1] == '6') {
    h.type = hash_type::sha512;
  } else {
    return std::nullopt;
  }
  const auto d = rest.find('$');
  if (d == std::string_view::npos) return std::nullopt;
  if (!base64_decode_exact(rest.substr(0, d), h.salt)) return std::nullopt;
  if (!base64_decode_exact(rest.substr(d + 1), h.hash)) return std::nullopt;
  return h;
}

std::string format_hash(const password_hash& h) {
  std::string s = "$";
  s += std::to_string(static_cast<int>(h.type));
  s += '$';
  if (h.type == hash_type::sha512_pbkdf2) {
    s += std::to_string(h.iterations);
    s += '$';
  }
  s += base64_encode(h.salt.data(), h.salt.size());
  s += '$';
  s += base64_encode(h.hash.data(), h.hash.size());
  return s;
}

boost::system::result<password_hash> make_hash(std::string_view password, hash_type type,
                                               int iterations) {
  password_hash h;
  h.type = type;
  if (type == hash_type::sha512_pbkdf2) {
    if (iterations < 1) return make_error_code(boost::system::errc::invalid_argument);
    h.iterations = iterations;
  }
  if (RAND_bytes(h.salt.data(), static_cast<int>(h.salt.size())) != 1)
    return make_error_code(boost::system::errc::resource_unavailable_try_again);
  if (!compute(h, password, h.hash))
    return make_error_code(boost::system::errc::function_not_supported);
  return h;
}

boost::system::result<std::string> hash_new(std::string_view password, int iterations,
                                            hash_type type) {
  auto h = make_hash(password, type, iterations);
  if (!h) return h.error();
  return format_hash(*h);
}

bool hash_matches(const password_hash& h, std::string_view password) {
  std::array<unsigned char, hash_size> got{};
  if (!compute(h, password, got)) return false;
  const bool equal = CRYPTO_memcmp(got.data(), h.hash.data(), got.size()) == 0;
  OPENSSL_cleanse(got.data(), got.size());
  return equal;
}

password_line classify_line(std::string_view line) {
  const std::string_view t = trim(line);
  if (t.empty()) return {password_line::blank, {}, {}};
  if (t.front() == '#') return {password_line::comment, {}, {}};
  const auto colon = t.find(':');
  if (colon == std::string_view::npos) return {password_line::corrupt, {}, {}};
  const std::string_view user = trim(t.substr(0, colon));
  const std::string_view secret = trim(t.substr(colon + 1));
  if (user.empty() || secret.empty()) return {password_line::corrupt, {}, {}};
  return {password_line::entry, user, secret};
}

password_db::password_db() {
  // A dummy with the default parameters; parse() replaces it with one shaped like the file's
  // entries. Its hash bytes are random, so no password matches it.
  dummy_.type = hash_type::sha512_pbkdf2;
  dummy_.iterations = default_iterations;
  RAND_bytes(dummy_.salt.data(), static_cast<int>(dummy_.salt.size()));
  RAND_bytes(dummy_.hash.data(), static_cast<int>(dummy_.hash.size()));
}

load_result<password_db> password_db::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return load_error{path + ": cannot open password file: " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return load_error{path + ": cannot read password file"};
  return parse(text.str(), path);
}

load_result<password_db> password_db::parse(std::string_view text, std::string_view name) {
  password_db db;
  std::map<std::string, std::size_t, std::less<>> first_line;
  // How many entries share each (type, iterations): the dummy copies the most common shape so
  // that unknown users cost what most known users cost.
  std::map<std::pair<int, int>, std::size_t> shapes;

  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

    const password_line l = classify_line(line);
    if (l.kind == password_line::blank || l.kind == password_line::comment) continue;
    if (l.kind == password_line::corrupt)
      return load_error{at(name, line_no) + "expected USERNAME:HASH"};
    if (l.username.size() > 65535)
      return load_error{at(name, line_no) + "username longer than 65535 bytes"};
    const std::string user(l.username);
    if (auto it = first_line.find(user); it != first_line.end()) {
      return load_error{at(name, line_no) + "duplicate user '" + user + "' (first on line " +
                        std::to_string(it->second) + ")"};
    }
    const auto h = parse_hash(l.secret);
    if (!h) {
      if (l.secret.size() < 3 || l.secret[0] != '$' || l.secret[2] != '$') {
        return load_error{at(name, line_no) + "password of user '" + user +
                          "' is not hashed (hash the file with: natter-passwd -U " +
                          std::string(name) + ")"};
      }
      return load_error{at(name, line_no) + "invalid password hash for user '" + user +
                        "' (expected $7$ITERATIONS$SALT$HASH or $6$SALT$HASH with a " +
                        "12-byte salt and a 64-byte hash in base64)"};
    }
    first_line.emplace(user, line_no);
    ++shapes[{static_cast<int>(h->type), h->iterations}];
    db.users_.emplace(user, *h);
  }

  if (!shapes.empty()) {
    auto best = shapes.begin();
    for (auto it = shapes.begin(); it != shapes.end(); ++it)
      if (it->second > best->second) best = it;
    db.dummy_.type = static_cast<hash_type>(best->first.first);
    db.dummy_.iterations = best->first.second;
  }
  return db;
}

bool password_db::verify(std::string_view username, std::string_view password) const {
  const auto it = users_.find(username);
  if (it == users_.end()) {
    // Same work as for a real user, result thrown away: the timing must not tell.
    (void)hash_matches(dummy_, password);
    return false;
  }
  return hash_matches(it->second, password);
}

std::vector<std::string> password_db::usernames() const {
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (const auto& [user, h] : users_) out.push_back(user);
  return out;
}

bool password_db::same_entry(const password_db& other, std::string_view username) const {
  const auto a = users_.find(username);
  const auto b = other.users_.find(username);
  if (a == users_.end() || b == other.users_.end()) return false;
  return a->second.type == b->second.type && a->second.iterations == b->second.iterations &&
         a->second.salt == b->second.salt && a->second.hash == b->second.hash;
}

bool password_db::contains(std::string_view username) const {
  return users_.find(username) != users_.end();
}

}  // namespace natter::auth
