// The mosquitto.conf parser. One pass over the lines, like Mosquitto's conf.c, into drafts that
// remember where each value came from; finish() then applies defaults, builds the listener list,
// resolves per-listener security and checks what can only be checked at the end (certfile
// without keyfile, duplicated ports...).
//
// Where Mosquitto's behaviour depends on line order we keep it: every file starts outside any
// listener block (keys before its first `listener` line configure the default listener), and
// `per_listener_settings` must precede the security keys. Where Mosquitto would silently do
// something surprising we stop with a message instead; docs/configuration.md lists those.
#include "config/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>
#include <utility>

namespace natter::config {

namespace {

// MQTT's largest Remaining Length (four-byte variable byte integer) and so its largest packet:
// 1 byte of packet type + 4 bytes of length + the remaining length.
constexpr std::int64_t max_remaining_length = 268'435'455;
constexpr std::int64_t max_packet = max_remaining_length + 5;
constexpr std::int64_t int32_max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

struct location {
  std::string file;
  std::size_t line = 0;
};

std::string to_text(const location& l) {
  return l.line == 0 ? l.file : l.file + ':' + std::to_string(l.line);
}

[[noreturn]] void fail(const location& l, std::string message) {
  throw config_error(l.file, l.line, std::move(message));
}

std::string ticked(std::string_view s) {
  return '`' + std::string(s) + '`';
}

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_blank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Words separated by blanks; a word starting with '#' starts a comment.
std::vector<std::string_view> words_of(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_blank(s[i])) ++i;
    if (i == s.size() || s[i] == '#') break;
    const std::size_t start = i;
    while (i < s.size() && !is_blank(s[i])) ++i;
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    char32_t cp = 0;
    char32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and values past U+10FFFF are not UTF-8.
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// Mosquitto's include_dir order (scmp_p in its conf_includedir.c): letters compare
// case-insensitively first, and only then upper case before lower case, so
// 00.conf 01.conf A.conf a.conf B.conf b.conf.
bool mosquitto_order(const std::string& a, const std::string& b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto ca = static_cast<unsigned char>(a[i]);
    const auto cb = static_cast<unsigned char>(b[i]);
    const int ua = std::toupper(ca);
    const int ub = std::toupper(cb);
    if (ua != ub) return ua < ub;
    if (ca != cb) return ca < cb;
  }
  return a.size() < b.size();
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

template <std::size_t N>
bool one_of(std::string_view key, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

// Keys that `per_listener_settings true` makes per-listener (Mosquitto's list, less plugins
// and PSK, which Natter does not have).
constexpr std::array<std::string_view, 5> security_keys = {
    "allow_anonymous", "password_file", "acl_file", "allow_zero_length_clientid", "auto_id_prefix"};

constexpr std::array<std::string_view, 21> listener_keys = {"protocol",
                                                            "bind_interface",
                                                            "max_connections",
                                                            "max_qos",
                                                            "max_topic_alias",
                                                            "mount_point",
                                                            "socket_domain",
                                                            "http_dir",
                                                            "use_username_as_clientid",
                                                            "cafile",
                                                            "capath",
                                                            "certfile",
                                                            "keyfile",
                                                            "crlfile",
                                                            "require_certificate",
                                                            "use_identity_as_username",
                                                            "use_subject_as_username",
                                                            "tls_version",
                                                            "ciphers",
                                                            "ciphers_tls1.3",
                                                            "tls_keyform"};

constexpr std::array<std::string_view, 41> global_keys = {
    "port", "bind_address", "listener_default_bind", "max_packet_size", "message_size_limit",
    "max_inflight_messages", "max_inflight_bytes", "max_queued_messages", "max_queued_bytes",
    "max_keepalive", "persistent_client_expiration", "persistence", "persistence_location",
    "persistence_file", "persistence_sync", "autosave_interval", "retain_available",
    "check_retain_source", "sys_interval", "set_tcp_nodelay", "upgrade_outgoing_qos",
    "queue_qos0_messages", "pid_file", "user", "log_dest", "log_type", "log_timestamp",
    "log_timestamp_format", "log_facility", "connection_messages", "connect_timeout",
    "max_subscriptions_per_client", "message_rate_limit", "chat_enabled",
    // Handled before dispatch, listed for suggestions.
    "listener", "include_dir", "per_listener_settings",
    // Accepted and ignored with a warning.
    "allow_duplicate_messages", "autosave_on_changes", "memory_limit", "websockets_log_level"};

// Mosquitto keys Natter accepts and ignores: tuning that has no equivalent here and whose
// absence changes nothing a client could rely on.
constexpr std::array<std::string_view, 8> ignored_keys = {"allow_duplicate_messages",
                                                          "autosave_on_changes",
                                                          "dhparamfile",
                                                          "memory_limit",
                                                          "retry_interval",
                                                          "websockets_log_level",
                                                          "websockets_headers_size",
                                                          "max_topic_alias_broker"};

// Mosquitto bridge keys without the `bridge_` prefix (all `bridge_*` keys are bridge keys too).
constexpr std::array<std::string_view, 25> bridge_keys = {"connection",
                                                          "address",
                                                          "addresses",
                                                          "topic",
                                                          "cleansession",
                                                          "local_cleansession",
                                                          "clientid",
                                                          "remote_clientid",
                                                          "local_clientid",
                                                          "username",
                                                          "remote_username",
                                                          "local_username",
                                                          "password",
                                                          "remote_password",
                                                          "local_password",
                                                          "keepalive_interval",
                                                          "idle_timeout",
                                                          "notifications",
                                                          "notifications_local_only",
                                                          "notification_topic",
                                                          "restart_timeout",
                                                          "round_robin",
                                                          "start_type",
                                                          "threshold",
                                                          "try_private"};

struct line_view {
  std::string_view key;
  std::string_view rest;  // the value part, trimmed; may be empty
  location loc;
};

struct seen_value {
  location loc;
  std::string value;
};
using seen_map = std::map<std::string, seen_value, std::less<>>;

struct security_draft {
  std::optional<bool> allow_anonymous;
  std::optional<std::filesystem::path> password_file;
  std::optional<std::filesystem::path> acl_file;
  std::optional<bool> allow_zero_length_clientid;
  std::optional<std::string> auto_id_prefix;
};

struct listener_draft {
  listener_config cfg;
  location defined_at;
  security_draft security;  // used with per_listener_settings true
  tls_config tls;           // kept only if certfile and keyfile are both set
  seen_map seen;            // listener-scoped keys (and its security keys) -> last setting

  const seen_value* find(std::string_view key) const {
    const auto it = seen.find(key);
    return it == seen.end() ? nullptr : &it->second;
  }
};

std::string port_text(const listener_config& c) {
  return c.unix_socket_path ? c.unix_socket_path->string() : std::to_string(c.port);
}

bool is_v6(std::string_view address) {
  return address.find(':') != std::string_view::npos;
}

// Whether two listeners on the same port would fight over an address: the same address, or a
// wildcard and an address of its family. Host names are compared as written.
bool addresses_overlap(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const auto& x : a) {
    for (const auto& y : b) {
      if (x == y) return true;
      if (x == "0.0.0.0" && !is_v6(y)) return true;
      if (y == "0.0.0.0" && !is_v6(x)) return true;
      if (x == "::" && is_v6(y)) return true;
      if (y == "::" && is_v6(x)) return true;
    }
  }
  return false;
}

std::string read_text(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec))
    throw config_error(p.string(), 0, "is a directory, not a configuration file");
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    const int e = errno;
    throw config_error(
        p.string(), 0,
        std::string("cannot open: ") + (e != 0 ? std::strerror(e) : "unknown error"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error(p.string(), 0, "read error");
  return std::move(text).str();
}

class parser {
 public:
  explicit parser(std::optional<std::filesystem::path> main_file)
      : main_file_(std::move(main_file)) {}

  void parse(std::string_view contents, const std::string& file, int level) {
    if (level == 0) main_name_ = file;
    listener_draft* const enclosing = current_;
    current_ = nullptr;  // each file starts outside any listener block, as in Mosquitto
    std::size_t line_no = 0;
    std::size_t pos = 0;
    if (contents.starts_with("\xEF\xBB\xBF")) pos = 3;  // a UTF-8 byte order mark
    while (pos < contents.size()) {
      const std::size_t nl = contents.find('\n', pos);
      const std::string_view raw =
          contents.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      pos = nl == std::string_view::npos ? contents.size() : nl + 1;
      ++line_no;
      const std::string_view body = trim(raw);
      if (body.empty() || body.front() == '#') continue;
      std::size_t key_end = 0;
      while (key_end < body.size() && !is_blank(body[key_end])) ++key_end;
      handle(line_view{body.substr(0, key_end), trim(body.substr(key_end)), {file, line_no}},
             level);
    }
    current_ = enclosing;
  }

  server_config finish();

 private:
  void handle(const line_view& l, int level) {
    if (l.key == "include_dir") return include_dir(l, level);
    if (l.key == "listener") return listener_line(l);
    if (l.key == "per_listener_settings") return per_listener_settings(l);
    if (unsupported(l)) return;
    if (one_of(l.key, security_keys)) return security_key(l);
    if (one_of(l.key, listener_keys)) return listener_key(l);
    if (global_key(l)) return;
    std::string message = "unknown key " + ticked(l.key);
    if (const auto s = suggestion(l.key); !s.empty())
      message += " (did you mean " + ticked(s) + "?)";
    fail(l.loc, message);
  }

  // --- values ---

  void warn(const location& l, const std::string& message) {
    out_.warnings.push_back(to_text(l) + ": " + message);
  }

  // A later setting of the same key wins. Mosquitto rejects a repeated path or string, but a
  // conf.d file overriding the main file (say, password_file) is the point of conf.d, so we
  // accept it and say so.
  void track(seen_map& seen, const line_view& l) {
    const auto it = seen.find(l.key);
    if (it != seen.end() && it->second.value != l.rest)
      warn(l.loc, ticked(l.key) + " overrides the value set at " + to_text(it->second.loc));
    seen.insert_or_assign(std::string(l.key), seen_value{l.loc, std::string(l.rest)});
  }

  static std::string_view word(const line_view& l) {
    const auto w = words_of(l.rest);
    if (w.empty()) fail(l.loc, "missing value for " + ticked(l.key));
    if (w.size() > 1)
      fail(l.loc, ticked(l.key) + " takes one value; unexpected " + ticked(w[1]) +
                      " (a comment must start with #)");
    return w[0];
  }

  static bool boolean(const line_view& l) {
    // Mosquitto 2.0 also takes 1 and 0, so we do too.
    const auto w = word(l);
    if (w == "true" || w == "1") return true;
    if (w == "false" || w == "0") return false;
    fail(l.loc, ticked(l.key) + " expects true or false, got " + ticked(w));
  }

  static std::int64_t integer(const line_view& l, std::string_view w, std::int64_t min,
                              std::int64_t max) {
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec == std::errc::invalid_argument || end != w.data() + w.size())
      fail(l.loc, ticked(l.key) + " expects an integer, got " + ticked(w));
    if (ec == std::errc::result_out_of_range || v < min || v > max)
      fail(l.loc, ticked(l.key) + " value " + std::string(w) + " is out of range (" +
                      std::to_string(min) + " to " + std::to_string(max) + ")");
    return v;
  }

  static std::int64_t integer(const line_view& l, std::int64_t min, std::int64_t max) {
    return integer(l, word(l), min, max);
  }

  // The rest of the line, as Mosquitto takes strings: paths may contain spaces, and a '#'
  // after a path is part of it.
  static std::string text(const line_view& l) {
    if (l.rest.empty()) fail(l.loc, "missing value for " + ticked(l.key));
    if (!valid_utf8(l.rest)) fail(l.loc, ticked(l.key) + " value is not valid UTF-8");
    return std::string(l.rest);
  }

  template <class E, std::size_t N>
  static E choice(const line_view& l,
                  const std::array<std::pair<std::string_view, E>, N>& options) {
    const auto w = word(l);
    for (const auto& [name, value] : options)
      if (w == name) return value;
    std::string names;
    for (const auto& o : options) names += (names.empty() ? "" : ", ") + std::string(o.first);
    fail(l.loc, ticked(l.key) + " expects one of " + names + "; got " + ticked(w));
  }

  // --- structure ---

  listener_draft& listener_target(const line_view& l) {
    if (current_ != nullptr) return *current_;
    if (!default_context_use_) default_context_use_ = l;
    return default_;
  }

  void include_dir(const line_view& l, int level) {
    if (level > 0) {
      // Mosquitto ignores include_dir outside the main file, silently.
      warn(l.loc, "include_dir is only honoured in the main configuration file; ignored");
      return;
    }
    const std::filesystem::path dir = text(l);
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec))
      fail(l.loc, "include_dir " + ticked(dir.string()) + " does not exist");
    if (!std::filesystem::is_directory(dir, ec))
      fail(l.loc, "include_dir " + ticked(dir.string()) + " is not a directory");

    std::vector<std::string> names;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) fail(l.loc, "cannot read include_dir " + ticked(dir.string()) + ": " + ec.message());
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.size() > 5 && name.ends_with(".conf")) names.push_back(name);
    }
    if (ec) fail(l.loc, "cannot read include_dir " + ticked(dir.string()) + ": " + ec.message());
    std::sort(names.begin(), names.end(), mosquitto_order);

    for (const auto& name : names) {
      const std::filesystem::path file = dir / name;
      if (main_file_ && std::filesystem::equivalent(file, *main_file_, ec))
        fail(l.loc,
             "include_dir " + ticked(dir.string()) + " contains the main configuration file");
      if (!std::filesystem::is_regular_file(file, ec)) {
        warn(l.loc, ticked(file.string()) + " is not a regular file; skipped");
        continue;
      }
      parse(read_text(file), file.string(), level + 1);
    }
  }

  void listener_line(const line_view& l) {
    const auto w = words_of(l.rest);
    if (w.empty()) fail(l.loc, "missing port for `listener`");
    if (w.size() > 2)
      fail(l.loc, "`listener` takes a port and an optional address; unexpected " + ticked(w[2]));
    const auto port = static_cast<std::uint16_t>(integer(l, w[0], 0, 65535));
    if (port == 0 && w.size() == 1)
      fail(l.loc, "`listener 0` needs a Unix socket path: listener 0 /run/natter/natter.sock");
    if (w.size() == 2 && !valid_utf8(w[1])) fail(l.loc, "`listener` address is not valid UTF-8");

    listener_draft& d = listeners_.emplace_back();
    d.defined_at = l.loc;
    d.cfg.port = port;
    if (w.size() == 2) {
      if (port == 0)
        d.cfg.unix_socket_path = std::string(w[1]);
      else
        d.cfg.bind_address = std::string(w[1]);
    }
    current_ = &d;
  }

  void per_listener_settings(const line_view& l) {
    const bool on = boolean(l);
    if (out_.per_listener_settings) {
      // Mosquitto: once on, it stays on.
      if (!on) warn(l.loc, "per_listener_settings cannot be turned off once set; ignored");
      return;
    }
    if (on && first_security_)
      fail(l.loc, "per_listener_settings must come before any security setting (" +
                      ticked(first_security_->key) + " at " + to_text(first_security_->loc) + ")");
    out_.per_listener_settings = on;
  }

  bool unsupported(const line_view& l) {
    const auto k = l.key;
    if (one_of(k, ignored_keys)) {
      warn(l.loc, ticked(k) + " is not supported by Natter; ignored");
      return true;
    }
    if (k == "connection") fail(l.loc, "bridges (`connection`) are not supported by Natter");
    if (k.starts_with("bridge_") || one_of(k, bridge_keys))
      fail(l.loc, ticked(k) + " configures a bridge; bridges are not supported by Natter");
    if (k == "auth_plugin" || k == "plugin" || k == "global_plugin" ||
        k == "auth_plugin_deny_special_chars" || k.starts_with("auth_opt_") ||
        k.starts_with("plugin_opt_"))
      fail(l.loc, ticked(k) + ": plugins are not supported by Natter");
    if (k == "psk_hint" || k == "psk_file")
      fail(l.loc, ticked(k) + ": TLS-PSK is not supported by Natter; use certificates");
    if (k == "tls_engine" || k == "tls_engine_kpass_sha1")
      fail(l.loc, ticked(k) + ": OpenSSL engines are not supported by Natter");
    if (k == "clientid_prefixes")
      fail(l.loc,
           "`clientid_prefixes` is not supported by Natter (it is deprecated in Mosquitto); "
           "use an acl_file");
    if (k == "websockets_origin" || k == "accept_protocol_versions" ||
        k == "disable_client_cert_date_checks" || k == "global_max_clients" ||
        k == "global_max_connections" || k == "enable_control_api")
      fail(l.loc, ticked(k) + " is not supported by Natter");
    return false;
  }

  void security_key(const line_view& l) {
    if (!first_security_) first_security_ = l;
    security_draft* sec = &global_security_;
    seen_map* seen = &global_seen_;
    if (out_.per_listener_settings) {
      listener_draft& d = listener_target(l);
      sec = &d.security;
      seen = &d.seen;
    }
    track(*seen, l);
    const auto k = l.key;
    if (k == "allow_anonymous") {
      sec->allow_anonymous = boolean(l);
    } else if (k == "password_file") {
      sec->password_file = text(l);
    } else if (k == "acl_file") {
      sec->acl_file = text(l);
    } else if (k == "allow_zero_length_clientid") {
      sec->allow_zero_length_clientid = boolean(l);
    } else if (k == "auto_id_prefix") {
      sec->auto_id_prefix = text(l);
    }
  }

  void listener_key(const line_view& l) {
    const auto k = l.key;
    if (k == "mount_point" && current_ == nullptr)
      fail(l.loc, "`mount_point` must follow a `listener` line");  // as Mosquitto
    listener_draft& d = listener_target(l);
    track(d.seen, l);
    listener_config& c = d.cfg;
    tls_config& t = d.tls;
    if (k == "protocol") {
      c.protocol = choice(
          l, std::array{std::pair{std::string_view("mqtt"), listener_protocol::mqtt},
                        std::pair{std::string_view("websockets"), listener_protocol::websockets}});
    } else if (k == "bind_interface") {
      c.bind_interface = std::string(word(l));
    } else if (k == "max_connections") {
      c.max_connections = static_cast<std::int32_t>(integer(l, -1, int32_max));
    } else if (k == "max_qos") {
      c.max_qos = static_cast<std::uint8_t>(integer(l, 0, 2));
    } else if (k == "max_topic_alias") {
      c.max_topic_alias = static_cast<std::uint16_t>(integer(l, 0, 65535));
    } else if (k == "mount_point") {
      const auto m = text(l);
      if (m.find_first_of("+#") != std::string::npos)
        fail(l.loc, "`mount_point` must not contain the wildcards + or #");
      c.mount_point = m;
    } else if (k == "socket_domain") {
      c.socket_domain =
          choice(l, std::array{std::pair{std::string_view("ipv4"), address_family::ipv4},
                               std::pair{std::string_view("ipv6"), address_family::ipv6}});
    } else if (k == "http_dir") {
      c.http_dir = text(l);
    } else if (k == "use_username_as_clientid") {
      c.use_username_as_clientid = boolean(l);
    } else if (k == "cafile") {
      t.cafile = text(l);
    } else if (k == "capath") {
      t.capath = text(l);
    } else if (k == "certfile") {
      t.certfile = text(l);
    } else if (k == "keyfile") {
      t.keyfile = text(l);
    } else if (k == "crlfile") {
      t.crlfile = text(l);
    } else if (k == "require_certificate") {
      t.require_certificate = boolean(l);
    } else if (k == "use_identity_as_username") {
      t.use_identity_as_username = boolean(l);
    } else if (k == "use_subject_as_username") {
      t.use_subject_as_username = boolean(l);
    } else if (k == "tls_version") {
      t.min_version = choice(
          l, std::array{std::pair{std::string_view("tlsv1.3"), tls_protocol_version::tlsv1_3},
                        std::pair{std::string_view("tlsv1.2"), tls_protocol_version::tlsv1_2},
                        std::pair{std::string_view("tlsv1.1"), tls_protocol_version::tlsv1_1}});
    } else if (k == "ciphers") {
      t.ciphers = text(l);
    } else if (k == "ciphers_tls1.3") {
      t.ciphers_tls13 = text(l);
    } else if (k == "tls_keyform") {
      const auto w = word(l);
      if (w == "engine")
        fail(l.loc, "`tls_keyform engine`: OpenSSL engines are not supported by Natter");
      if (w != "pem") fail(l.loc, "`tls_keyform` expects pem or engine, got " + ticked(w));
    }
  }

  bool global_key(const line_view& l) {
    const auto k = l.key;
    if (!one_of(k, global_keys)) return false;
    if (k != "log_dest" && k != "log_type") track(global_seen_, l);
    server_config& c = out_;
    if (k == "port") {
      warn(l.loc, "`port` is deprecated (as in Mosquitto 2); use `listener`");
      default_.cfg.port = static_cast<std::uint16_t>(integer(l, 1, 65535));
      port_at_ = l.loc;
    } else if (k == "bind_address") {
      warn(l.loc, "`bind_address` is deprecated (as in Mosquitto 2); use `listener PORT ADDRESS`");
      default_.cfg.bind_address = std::string(word(l));
      if (!bind_address_at_) bind_address_at_ = l.loc;
    } else if (k == "listener_default_bind") {
      c.listener_default_bind =
          choice(l, std::array{std::pair{std::string_view("loopback"), bind_scope::loopback},
                               std::pair{std::string_view("all"), bind_scope::all}});
    } else if (k == "max_packet_size") {
      // Mosquitto refuses less than 20 bytes: even small packets would not fit.
      c.max_packet_size = static_cast<std::uint32_t>(integer(l, 20, max_packet));
    } else if (k == "message_size_limit") {
      c.message_size_limit = static_cast<std::uint32_t>(integer(l, 0, max_remaining_length));
    } else if (k == "max_inflight_messages") {
      c.max_inflight_messages = static_cast<std::uint16_t>(integer(l, 0, 65535));
    } else if (k == "max_inflight_bytes") {
      c.max_inflight_bytes = static_cast<std::uint64_t>(integer(l, 0, int64_max));
    } else if (k == "max_queued_messages") {
      c.max_queued_messages = static_cast<std::uint32_t>(integer(l, 0, int32_max));
    } else if (k == "max_queued_bytes") {
      c.max_queued_bytes = static_cast<std::uint64_t>(integer(l, 0, int64_max));
    } else if (k == "max_keepalive") {
      c.max_keepalive = static_cast<std::uint16_t>(integer(l, 0, 65535));
    } else if (k == "persistent_client_expiration") {
      c.persistent_client_expiration = duration(l);
    } else if (k == "persistence") {
      c.persistence = boolean(l);
    } else if (k == "persistence_location") {
      c.persistence_location = text(l);
    } else if (k == "persistence_file") {
      c.persistence_file = text(l);
    } else if (k == "persistence_sync") {
      c.persistence_sync =
          choice(l, std::array{std::pair{std::string_view("always"), sync_mode::always},
                               std::pair{std::string_view("batch"), sync_mode::batch},
                               std::pair{std::string_view("none"), sync_mode::none}});
    } else if (k == "autosave_interval") {
      c.autosave_interval = std::chrono::seconds(integer(l, 0, int32_max));
    } else if (k == "retain_available") {
      c.retain_available = boolean(l);
    } else if (k == "check_retain_source") {
      c.check_retain_source = boolean(l);
    } else if (k == "sys_interval") {
      c.sys_interval = std::chrono::seconds(integer(l, 0, 65535));
    } else if (k == "set_tcp_nodelay") {
      c.set_tcp_nodelay = boolean(l);
    } else if (k == "upgrade_outgoing_qos") {
      c.upgrade_outgoing_qos = boolean(l);
    } else if (k == "queue_qos0_messages") {
      c.queue_qos0_messages = boolean(l);
    } else if (k == "pid_file") {
      c.pid_file = text(l);
    } else if (k == "user") {
      c.user = std::string(word(l));
    } else if (k == "log_dest") {
      log_dest(l);
    } else if (k == "log_type") {
      log_type(l);
    } else if (k == "log_timestamp") {
      c.log.timestamp = boolean(l);
    } else if (k == "log_timestamp_format") {
      c.log.timestamp_format = text(l);
    } else if (k == "log_facility") {
      c.log.facility = static_cast<int>(integer(l, 0, 7));
    } else if (k == "connection_messages") {
      c.log.connection_messages = boolean(l);
    } else if (k == "connect_timeout") {
      c.connect_timeout = std::chrono::seconds(integer(l, 1, 65535));
    } else if (k == "max_subscriptions_per_client") {
      c.max_subscriptions_per_client = static_cast<std::uint32_t>(integer(l, 0, int32_max));
    } else if (k == "message_rate_limit") {
      c.message_rate_limit = static_cast<std::uint32_t>(integer(l, 0, int32_max));
    } else if (k == "chat_enabled") {
      c.chat_enabled = boolean(l);
    } else {
      return false;  // listed for suggestions only
    }
    return true;
  }

  [[noreturn]] static void bad_duration(const line_view& l, std::string_view w) {
    fail(l.loc, ticked(l.key) + " expects a duration such as 1h, 2d, 1w, 1m (30 days) or 1y, got " +
                    ticked(w));
  }

  // Mosquitto's persistent_client_expiration: a count and one of h d w m y; m is a month of
  // 30 days and y a year of 365, not minutes and not calendar units.
  static std::chrono::seconds duration(const line_view& l) {
    const auto w = word(l);
    if (w.size() < 2) bad_duration(l, w);
    std::int64_t unit = 0;
    switch (w.back()) {
      case 'h':
        unit = 3600;
        break;
      case 'd':
        unit = 86400;
        break;
      case 'w':
        unit = 7 * 86400;
        break;
      case 'm':
        unit = 30 * 86400;
        break;
      case 'y':
        unit = 365 * 86400;
        break;
      default:
        bad_duration(l, w);
    }
    const auto digits = w.substr(0, w.size() - 1);
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::invalid_argument || end != digits.data() + digits.size())
      bad_duration(l, w);
    if (ec == std::errc::result_out_of_range || n < 1 || n > int32_max / unit)
      fail(l.loc, ticked(l.key) + " value " + ticked(w) + " is out of range");
    return std::chrono::seconds(n * unit);
  }

  void log_dest(const line_view& l) {
    const auto w = words_of(l.rest);
    if (w.empty()) fail(l.loc, "missing value for `log_dest`");
    log_config& out = out_.log;
    if (!log_dest_set_) {
      // The first log_dest replaces the default (stderr); later ones add to it.
      log_dest_set_ = true;
      out.to_stderr = false;
    }
    if (w[0] == "file") {
      const auto path = trim(l.rest.substr(4));
      if (path.empty()) fail(l.loc, "missing path after `log_dest file`");
      if (!valid_utf8(path)) fail(l.loc, "`log_dest file` path is not valid UTF-8");
      if (out.file && *out.file != path)
        warn(l.loc, "`log_dest file` overrides " + ticked(out.file->string()) +
                        " (Natter logs to one file)");
      out.file = std::string(path);
      return;
    }
    for (const auto d : w) {
      if (d == "none") {
        out.to_stdout = out.to_stderr = out.to_syslog = false;
        out.file.reset();
      } else if (d == "stdout") {
        out.to_stdout = true;
      } else if (d == "stderr") {
        out.to_stderr = true;
      } else if (d == "syslog") {
        out.to_syslog = true;
      } else if (d == "topic" || d == "dlt") {
        warn(l.loc, "`log_dest " + std::string(d) + "` is not supported by Natter; ignored");
      } else {
        fail(l.loc,
             "`log_dest` expects one of stdout, stderr, syslog, file PATH, none; got " + ticked(d));
      }
    }
  }

  void log_type(const line_view& l) {
    const auto w = words_of(l.rest);
    if (w.empty()) fail(l.loc, "missing value for `log_type`");
    log_types& t = out_.log.types;
    if (!log_type_set_) {
      log_type_set_ = true;
      t = log_types{false, false, false, false, false, false, false, false};
    }
    for (const auto v : w) {
      if (v == "none") {
        t = log_types{false, false, false, false, false, false, false, false};
      } else if (v == "all") {
        t = log_types{true, true, true, true, true, true, true, true};
      } else if (v == "error") {
        t.error = true;
      } else if (v == "warning") {
        t.warning = true;
      } else if (v == "notice") {
        t.notice = true;
      } else if (v == "information") {
        t.information = true;
      } else if (v == "debug") {
        t.debug = true;
      } else if (v == "subscribe") {
        t.subscribe = true;
      } else if (v == "unsubscribe") {
        t.unsubscribe = true;
      } else if (v == "websockets") {
        t.websockets = true;
      } else {
        fail(l.loc,
             "`log_type` expects one of error, warning, notice, information, debug, subscribe, "
             "unsubscribe, websockets, all, none; got " +
                 ticked(v));
      }
    }
  }

  static std::string_view suggestion(std::string_view key) {
    std::string_view best;
    std::size_t best_distance = 3;  // suggest only close misspellings
    auto consider = [&](const auto& names) {
      for (const auto name : names) {
        const auto d = edit_distance(key, name);
        if (d < best_distance) best_distance = d, best = name;
      }
    };
    consider(security_keys);
    consider(listener_keys);
    consider(global_keys);
    return best;
  }

  // --- finishing ---

  security_config resolve(const security_draft& s) const {
    security_config r;
    // Mosquitto 2: anonymous access is off unless the broker runs in local-only mode.
    r.allow_anonymous = s.allow_anonymous.value_or(out_.local_only);
    r.password_file = s.password_file;
    r.acl_file = s.acl_file;
    if (s.allow_zero_length_clientid) r.allow_zero_length_clientid = *s.allow_zero_length_clientid;
    if (s.auto_id_prefix) r.auto_id_prefix = *s.auto_id_prefix;
    return r;
  }

  void finish_tls(listener_draft& d) {
    const auto* cert = d.find("certfile");
    const auto* key = d.find("keyfile");
    const std::string which = " (listener " + port_text(d.cfg) + ")";
    if (cert && !key) fail(cert->loc, "`certfile` without `keyfile`" + which);
    if (key && !cert) fail(key->loc, "`keyfile` without `certfile`" + which);
    const tls_config& t = d.tls;
    if (!cert) {
      // A switch that asks for more security must not be dropped silently; paths and cipher
      // lists only matter with TLS, so a warning is enough.
      for (const std::string_view k :
           {"require_certificate", "use_identity_as_username", "use_subject_as_username"}) {
        if (const auto* s = d.find(k); s && s->value != "false" && s->value != "0")
          fail(s->loc, ticked(k) + " needs `certfile` and `keyfile` on the same listener" + which);
      }
      for (const std::string_view k :
           {"cafile", "capath", "crlfile", "ciphers", "ciphers_tls1.3", "tls_version"}) {
        if (const auto* s = d.find(k))
          warn(s->loc, ticked(k) + " is ignored: the listener has no `certfile`/`keyfile`" + which);
      }
      return;
    }
    if (t.require_certificate && !t.cafile && !t.capath)
      fail(d.find("require_certificate")->loc,
           "`require_certificate true` needs `cafile` or `capath` to verify client certificates" +
               which);
    for (const std::string_view k : {"use_identity_as_username", "use_subject_as_username"}) {
      const bool on =
          k == "use_identity_as_username" ? t.use_identity_as_username : t.use_subject_as_username;
      if (on && !t.require_certificate)
        fail(d.find(k)->loc, ticked(k) + " needs `require_certificate true`" + which);
    }
    if (t.crlfile && !t.require_certificate)
      warn(d.find("crlfile")->loc,
           "`crlfile` has no effect without `require_certificate true`" + which);
    d.cfg.tls = t;
  }

  void finish_bind(listener_draft& d) {
    listener_config& c = d.cfg;
    if (c.unix_socket_path) return;
    if (c.bind_address) {
      c.bind_addresses = {*c.bind_address};
      return;
    }
    if (out_.local_only && c.bind_interface)
      fail(d.find("bind_interface")->loc,
           "`bind_interface` needs a `listener` line: without one Natter runs in local-only mode "
           "(loopback only, anonymous access allowed)");
    // Natter is stricter than Mosquitto: no address means loopback, not every interface.
    const bool all =
        c.bind_interface || (!out_.local_only && out_.listener_default_bind == bind_scope::all);
    if (c.socket_domain != address_family::ipv6)
      c.bind_addresses.emplace_back(all ? "0.0.0.0" : "127.0.0.1");
    if (c.socket_domain != address_family::ipv4) c.bind_addresses.emplace_back(all ? "::" : "::1");
  }

  std::optional<std::filesystem::path> main_file_;
  std::string main_name_;
  server_config out_;
  std::deque<listener_draft> listeners_;  // deque: current_ must survive emplace_back
  listener_draft default_;
  listener_draft* current_ = nullptr;  // nullptr: before the file's first `listener` line

  struct key_at {
    std::string key;
    location loc;
    key_at(const line_view& l) : key(l.key), loc(l.loc) {}  // NOLINT: implicit by design
  };
  std::optional<key_at> default_context_use_;  // first key that configured the default listener
  std::optional<key_at> first_security_;
  std::optional<location> port_at_;
  std::optional<location> bind_address_at_;
  security_draft global_security_;
  seen_map global_seen_;
  bool log_dest_set_ = false;
  bool log_type_set_ = false;
};

server_config parser::finish() {
  const bool explicit_listeners = !listeners_.empty();
  out_.local_only = !explicit_listeners && !port_at_ && !bind_address_at_;
  const bool default_exists = !explicit_listeners || port_at_ || bind_address_at_;

  if (!default_exists && default_context_use_) {
    // Mosquitto would open an extra listener on port 1883, on every interface, for this.
    fail(default_context_use_->loc,
         ticked(default_context_use_->key) +
             " comes before any `listener` line in its file, so it configures the default "
             "listener, which does not exist here (there are `listener` lines and no `port`); "
             "move it after the `listener` line it belongs to");
  }

  std::vector<listener_draft*> all;
  for (auto& d : listeners_) all.push_back(&d);
  if (default_exists) {
    default_.cfg.implicit = true;
    default_.defined_at = port_at_           ? *port_at_
                          : bind_address_at_ ? *bind_address_at_
                                             : location{main_name_, 0};
    all.push_back(&default_);
  }

  out_.security = resolve(global_security_);
  for (listener_draft* d : all) {
    finish_tls(*d);
    finish_bind(*d);
    d->cfg.security = out_.per_listener_settings ? resolve(d->security) : out_.security;
    d->cfg.defined_at = to_text(d->defined_at);
    if (d->cfg.http_dir && d->cfg.protocol != listener_protocol::websockets)
      warn(d->find("http_dir")->loc,
           "`http_dir` is ignored: the listener does not use `protocol websockets`");
  }

  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const listener_config& a = all[j]->cfg;
      const listener_config& b = all[i]->cfg;
      const bool clash =
          a.unix_socket_path || b.unix_socket_path
              ? a.unix_socket_path == b.unix_socket_path
              : a.port == b.port && addresses_overlap(a.bind_addresses, b.bind_addresses);
      if (clash) {
        std::string message = "duplicated `listener` " + port_text(b) + " (already defined at " +
                              to_text(all[j]->defined_at) + ")";
        if (b.implicit) message += "; `port` adds a listener besides the `listener` lines";
        fail(all[i]->defined_at, message);
      }
    }
  }

  for (listener_draft* d : all) out_.listeners.push_back(std::move(d->cfg));
  return std::move(out_);
}

}  // namespace

config_error::config_error(std::string file, std::size_t line, std::string message)
    : std::runtime_error((line == 0 ? file : file + ':' + std::to_string(line)) + ": " + message),
      file_(std::move(file)),
      line_(line),
      message_(std::move(message)) {}

server_config load_config(const std::filesystem::path& file) {
  std::error_code ec;
  auto canonical = std::filesystem::weakly_canonical(file, ec);
  parser p(ec ? file : canonical);
  p.parse(read_text(file), file.string(), 0);
  return p.finish();
}

server_config parse_config(std::string_view text, const std::string& file_name) {
  parser p(std::nullopt);
  p.parse(text, file_name, 0);
  return p.finish();
}

std::filesystem::path persistence_path(const server_config& c) {
  return c.persistence_location.empty() ? std::filesystem::path(c.persistence_file)
                                        : c.persistence_location / c.persistence_file;
}

std::string_view to_string(listener_protocol p) noexcept {
  return p == listener_protocol::websockets ? "websockets" : "mqtt";
}

std::string_view to_string(tls_protocol_version v) noexcept {
  switch (v) {
    case tls_protocol_version::tlsv1_1:
      return "tlsv1.1";
    case tls_protocol_version::tlsv1_2:
      return "tlsv1.2";
    case tls_protocol_version::tlsv1_3:
      return "tlsv1.3";
  }
  return "tlsv1.2";
}

std::string_view to_string(sync_mode m) noexcept {
  switch (m) {
    case sync_mode::always:
      return "always";
    case sync_mode::batch:
      return "batch";
    case sync_mode::none:
      return "none";
  }
  return "batch";
}

}  // namespace natter::config
