// Natter's configuration: a mosquitto.conf(5) dialect (Mosquitto 2.0) plus a few Natter-only
// keys. docs/configuration.md is the user-facing reference; this header is the typed result.
//
// Loading happens once at startup, so errors are exceptions (config_error) whose what() is
// "FILE:LINE: message". Everything in server_config is resolved: defaults applied, the implicit
// default listener materialised, and each listener carries its effective security settings
// (global or its own, per `per_listener_settings`). Files named by the configuration
// (password_file, acl_file, certfile...) are not opened here: whether they exist is the
// server's check, so that a configuration can be validated on another machine.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace natter::config {

class config_error : public std::runtime_error {
 public:
  // line 0: the error concerns the file as a whole (cannot be read, ...).
  config_error(std::string file, std::size_t line, std::string message);

  const std::string& file() const noexcept { return file_; }
  std::size_t line() const noexcept { return line_; }
  const std::string& message() const noexcept { return message_; }

 private:
  std::string file_;
  std::size_t line_;
  std::string message_;
};

enum class listener_protocol { mqtt, websockets };
enum class address_family { any, ipv4, ipv6 };  // `socket_domain`; any: both
enum class tls_protocol_version { tlsv1_1, tlsv1_2, tlsv1_3 };
enum class sync_mode { always, batch, none };  // `persistence_sync` (Natter)
enum class bind_scope { loopback, all };       // `listener_default_bind` (Natter)

// The security keys that `per_listener_settings true` makes per-listener.
struct security_config {
  bool allow_anonymous = false;
  std::optional<std::filesystem::path> password_file;
  std::optional<std::filesystem::path> acl_file;
  bool allow_zero_length_clientid = true;
  std::string auto_id_prefix = "auto-";
};

// Present on a listener iff it has both certfile and keyfile.
struct tls_config {
  std::filesystem::path certfile;
  std::filesystem::path keyfile;
  std::optional<std::filesystem::path> cafile;
  std::optional<std::filesystem::path> capath;
  std::optional<std::filesystem::path> crlfile;
  bool require_certificate = false;
  bool use_identity_as_username = false;  // CN of the client certificate
  bool use_subject_as_username = false;   // whole subject; identity wins if both
  // Unset: TLS 1.2 and 1.3 (Mosquitto's default). Set: the minimum version.
  std::optional<tls_protocol_version> min_version;
  std::optional<std::string> ciphers;        // TLS <= 1.2, OpenSSL cipher list
  std::optional<std::string> ciphers_tls13;  // `ciphers_tls1.3`
};

struct listener_config {
  std::uint16_t port = 1883;                              // 0 with unix_socket_path
  std::optional<std::filesystem::path> unix_socket_path;  // `listener 0 PATH`
  std::optional<std::string> bind_address;                // as configured, if at all
  // What the transport binds, resolved: the configured address (a host name is left for the
  // transport to resolve); otherwise loopback ("127.0.0.1", "::1") or, with
  // `listener_default_bind all` or `bind_interface`, the wildcards ("0.0.0.0", "::"), filtered
  // by socket_domain. Binding both wildcards needs IPV6_V6ONLY on the "::" socket. Empty for a
  // Unix socket.
  std::vector<std::string> bind_addresses;
  std::optional<std::string> bind_interface;  // SO_BINDTODEVICE
  listener_protocol protocol = listener_protocol::mqtt;
  address_family socket_domain = address_family::any;
  std::int32_t max_connections = -1;  // -1: unlimited
  std::uint8_t max_qos = 2;
  std::uint16_t max_topic_alias = 10;
  std::optional<std::string> mount_point;
  std::optional<std::filesystem::path> http_dir;  // websockets listeners: static files
  bool use_username_as_clientid = false;
  std::optional<tls_config> tls;
  security_config security;  // effective for this listener
  // The implicit default listener (no `listener` line: local-only mode, or `port`).
  bool implicit = false;
  std::string defined_at;  // "FILE:LINE" of its `listener` (or `port`) line, for log messages
};

struct log_types {
  bool error = true;
  bool warning = true;
  bool notice = true;
  bool information = true;
  bool debug = false;
  bool subscribe = false;
  bool unsubscribe = false;
  bool websockets = false;
};

struct log_config {
  bool to_stdout = false;
  bool to_stderr = true;
  bool to_syslog = false;
  std::optional<std::filesystem::path> file;  // `log_dest file PATH`
  log_types types;
  bool timestamp = true;
  std::optional<std::string> timestamp_format;  // strftime(3)
  std::optional<int> facility;                  // syslog local0..local7; unset: daemon
  bool connection_messages = true;
};

struct server_config {
  // Explicit listeners in file order, then the implicit default listener if there is one.
  std::vector<listener_config> listeners;

  bool per_listener_settings = false;
  // The global security settings. With per_listener_settings false, every listener's
  // `security` is a copy of this; with true, this is unused.
  security_config security;
  // Mosquitto 2 "local only mode": no `listener`, `port` or `bind_address` line. One listener,
  // port 1883 on loopback, anonymous access allowed unless configured otherwise.
  bool local_only = false;
  bind_scope listener_default_bind = bind_scope::loopback;

  // Limits. 0 means "no limit" unless noted.
  std::optional<std::uint32_t> max_packet_size;  // unset: no limit
  std::uint32_t message_size_limit = 0;
  std::uint16_t max_inflight_messages = 20;
  std::uint64_t max_inflight_bytes = 0;
  std::uint32_t max_queued_messages = 1000;
  std::uint64_t max_queued_bytes = 0;
  std::uint16_t max_keepalive = 65535;
  std::optional<std::chrono::seconds> persistent_client_expiration;  // unset: never

  // Persistence.
  bool persistence = false;
  std::filesystem::path persistence_location;  // empty: the working directory
  std::string persistence_file = "natter.db";
  std::chrono::seconds autosave_interval{1800};
  sync_mode persistence_sync = sync_mode::always;

  // Behaviour.
  bool retain_available = true;
  bool check_retain_source = true;
  std::chrono::seconds sys_interval{10};  // 0: no $SYS publishing
  bool set_tcp_nodelay = false;
  bool upgrade_outgoing_qos = false;
  bool queue_qos0_messages = false;

  // Process.
  std::optional<std::filesystem::path> pid_file;
  std::optional<std::string> user;
  log_config log;

  // Natter's own.
  std::chrono::seconds connect_timeout{10};
  std::uint32_t max_subscriptions_per_client = 0;
  std::uint32_t message_rate_limit = 0;  // PUBLISH per second per user
  bool chat_enabled = false;  // reserves chat/ and presence/ (docs/protocol.md)

  // "FILE:LINE: message" for deprecated, ignored or overridden settings; log them at startup.
  std::vector<std::string> warnings;
};

// Reads `file` and the files its include_dir lines name. Throws config_error.
server_config load_config(const std::filesystem::path& file);

// Parses configuration text; `file_name` only labels messages. include_dir paths are used as
// written, so relative ones resolve against the working directory (as in Mosquitto).
server_config parse_config(std::string_view text, const std::string& file_name);

// persistence_location / persistence_file.
std::filesystem::path persistence_path(const server_config& c);

std::string_view to_string(listener_protocol p) noexcept;
std::string_view to_string(tls_protocol_version v) noexcept;
std::string_view to_string(sync_mode m) noexcept;

}  // namespace natter::config
