#include "settings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "client/errors.hpp"
#include "client/url.hpp"
#include "mqtt/error.hpp"

namespace natter::term {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string home() {
  std::string h = env("HOME");
  return h.empty() ? "." : h;
}

// mkdir -p, mode 0700 for what it creates.
bool make_dirs(const std::string& path) {
  std::string cur;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) return false;
  }
  return true;
}

std::string trim_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "host";
  std::string out;
  for (const char* p = buf; *p != '\0' && *p != '.'; ++p) {
    const char c = *p;
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    out.push_back(ok ? c : '-');
  }
  return out.empty() ? "host" : out.substr(0, 32);
}

// Reads a line from the terminal with echo off. nullopt when there is no terminal.
std::optional<std::string> prompt_password(const std::string& prompt) {
  const int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  termios old{};
  const bool is_tty = ::tcgetattr(fd, &old) == 0;
  if (is_tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  [[maybe_unused]] auto w = ::write(fd, prompt.data(), prompt.size());
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (is_tty) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::close(fd);
  return trim_line(line);
}

}  // namespace

std::string default_config_path() {
  std::string base = env("XDG_CONFIG_HOME");
  if (base.empty()) base = home() + "/.config";
  return base + "/natter/config";
}

std::string state_dir() {
  std::string base = env("XDG_STATE_HOME");
  if (base.empty()) base = home() + "/.local/state";
  return base + "/natter";
}

std::string stored_device_id(const std::string& user, std::string& error) {
  const std::string dir = state_dir();
  const std::string path = dir + "/device-" + user;
  {
    std::ifstream in(path);
    std::string id;
    if (in && std::getline(in, id) && !trim_line(id).empty()) return trim_line(id);
  }
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  const std::string id = "natter-" + host_name() + "-" + suffix;
  if (!make_dirs(dir)) {
    error = "cannot create " + dir + ": " + std::strerror(errno);
    return {};
  }
  // Written whole then renamed, so two clients starting at once agree on one id.
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << id << '\n';
    if (!out.flush()) {
      error = "cannot write " + tmp;
      return {};
    }
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    std::ifstream in(path);  // another one was first: use its id
    std::string other;
    if (in && std::getline(in, other) && !trim_line(other).empty()) return trim_line(other);
    error = "cannot write " + path + ": " + std::strerror(errno);
    return {};
  }
  ::unlink(tmp.c_str());
  return id;
}

std::optional<std::string> find_password(const settings& s,
                                         const std::optional<std::string>& url_pw, bool may_prompt,
                                         std::string& error) {
  if (!s.password_file.empty()) {
    std::ifstream in(s.password_file);
    std::string line;
    if (!in) {
      error = "cannot read the password file " + s.password_file + ": " + std::strerror(errno);
      return std::nullopt;
    }
    std::getline(in, line);
    return trim_line(line);
  }
  if (const char* pw = std::getenv("NATTER_PASSWORD"); pw != nullptr) return std::string(pw);
  if (url_pw) return url_pw;
  if (may_prompt) {
    if (auto pw = prompt_password("Password for " + s.user + ": ")) return pw;
  }
  error = "no password: give --password-file FILE or set NATTER_PASSWORD";
  return std::nullopt;
}

resolved resolve(const settings& s, bool persistent, bool interactive_prompt) {
  resolved r;
  auto& o = r.chat.mqtt;
  o.host = "localhost";
  o.port = 1883;
  std::optional<std::string> url_user;
  std::optional<std::string> url_pw;
  bool url_port = false;
  if (!s.url.empty()) {
    auto u = client::parse_url(s.url);
    if (!u) {
      r.error = "invalid URL '" + s.url + "': " + u.error().message();
      return r;
    }
    o.apply(*u);
    url_user = u->username;
    url_pw = u->password;
    url_port = u->port_given;
  }
  if (!s.host.empty()) o.host = s.host;
  const bool tls_files = !s.cafile.empty() || !s.capath.empty();
  if (tls_files && o.transport == client::transport_kind::tcp)
    o.transport = client::transport_kind::tls;
  if (tls_files && o.transport == client::transport_kind::ws)
    o.transport = client::transport_kind::wss;
  if (s.port < 0 || s.port > 65535) {
    r.error = "invalid port " + std::to_string(s.port);
    return r;
  }
  if (s.port > 0) {
    o.port = static_cast<std::uint16_t>(s.port);
  } else if (!url_port) {
    o.port = client::default_port(o.transport);
  }
  o.tls.ca_file = s.cafile;
  o.tls.ca_path = s.capath;
  o.tls.cert_file = s.cert;
  o.tls.key_file = s.key;
  o.tls.verify_hostname = !s.insecure;
  for (const std::string* f : {&s.cafile, &s.cert, &s.key}) {
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0) {
      r.error = "cannot read " + *f + ": " + std::strerror(errno);
      return r;
    }
  }

  const std::string user = !s.user.empty() ? s.user : url_user.value_or("");
  if (user.empty()) {
    r.error =
        "no user name: give --user NAME (or put user = NAME in " + default_config_path() + ")";
    return r;
  }
  if (!chat::valid_user_name(user)) {
    r.error = "'" + user + "' is not a valid user name";
    return r;
  }
  settings with_user = s;
  with_user.user = user;
  // A client certificate may be all the server asks for (use_identity_as_username).
  const bool cert_only = !s.cert.empty() && s.password_file.empty() && !url_pw &&
                         std::getenv("NATTER_PASSWORD") == nullptr;
  if (!cert_only) {
    auto pw = find_password(with_user, url_pw, interactive_prompt, r.error);
    if (!pw) return r;
    o.connect.password = std::move(*pw);
  }
  o.connect.username = user;

  std::string device = s.device;
  if (device.empty()) {
    device = stored_device_id(user, r.error);
    if (device.empty()) return r;
  }
  if (device.find_first_of("/+#") != std::string::npos) {
    r.error = "device id '" + device + "' may not contain '/', '+' or '#'";
    return r;
  }
  // One-off commands must not take over the device's session (a running terminal client
  // would be disconnected): they use an id of their own.
  o.connect.client_id = persistent ? device : device + "-" + std::to_string(::getpid());
  o.connect.protocol_version = mqtt::version::v5;
  o.connect.keep_alive = static_cast<std::uint16_t>(s.keepalive > 0 ? s.keepalive : 30);
  o.connect_timeout = std::chrono::seconds(s.timeout > 0 ? s.timeout : 10);
  r.chat.persistent = persistent;
  r.chat.request_timeout = std::chrono::seconds(s.timeout > 0 ? s.timeout : 10);
  r.server = o.host + ":" + std::to_string(o.port);
  return r;
}

std::string describe_failure(const std::error_code& ec) {
  if (ec.category() == mqtt::reason_category()) {
    const auto rc = static_cast<mqtt::reason_code>(ec.value());
    if (rc == mqtt::reason_code::bad_user_name_or_password ||
        rc == mqtt::reason_code::not_authorized)
      return "authentication failed: " + std::string(mqtt::to_string(rc));
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02X", ec.value());
    return std::string(mqtt::to_string(rc)) + " (" + hex + ")";
  }
  if (ec == client::errc::connection_lost) return "the connection was closed";
  return ec.message();
}

}  // namespace natter::term
