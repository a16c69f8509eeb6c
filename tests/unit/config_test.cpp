// The mosquitto.conf loader: every key, defaults, listener scoping, per_listener_settings,
// include_dir order, exact FILE:LINE error messages, and the shipped packaging/natter.conf.
#include "config/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace cfg = natter::config;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

cfg::server_config parse(std::string_view text) {
  return cfg::parse_config(text, "test.conf");
}

// what() of the config_error that parsing throws, or "" if it parses.
std::string error_of(std::string_view text) {
  try {
    parse(text);
  } catch (const cfg::config_error& e) {
    return e.what();
  }
  return "";
}

bool has_warning(const cfg::server_config& c, std::string_view part) {
  for (const auto& w : c.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A fresh directory under /tmp, removed afterwards.
class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "natter-config-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

class working_directory {
 public:
  explicit working_directory(const fs::path& p) : saved_(fs::current_path()) {
    fs::current_path(p);
  }
  ~working_directory() { fs::current_path(saved_); }
  working_directory(const working_directory&) = delete;
  working_directory& operator=(const working_directory&) = delete;

 private:
  fs::path saved_;
};

using addresses = std::vector<std::string>;

}  // namespace

// ---------------------------------------------------------------- defaults, file format

TEST(ConfigDefaults, EmptyFileIsMosquittoLocalOnlyMode) {
  const auto c = parse("");
  EXPECT_TRUE(c.local_only);
  ASSERT_EQ(c.listeners.size(), 1u);
  const auto& l = c.listeners[0];
  EXPECT_TRUE(l.implicit);
  EXPECT_EQ(l.port, 1883);
  EXPECT_EQ(l.bind_addresses, (addresses{"127.0.0.1", "::1"}));
  EXPECT_FALSE(l.bind_address);
  EXPECT_EQ(l.protocol, cfg::listener_protocol::mqtt);
  EXPECT_EQ(l.socket_domain, cfg::address_family::any);
  EXPECT_EQ(l.max_connections, -1);
  EXPECT_EQ(l.max_qos, 2);
  EXPECT_EQ(l.max_topic_alias, 10);
  EXPECT_FALSE(l.tls);
  EXPECT_FALSE(l.mount_point);
  EXPECT_FALSE(l.http_dir);
  EXPECT_FALSE(l.use_username_as_clientid);
  // Local-only mode is the one case where anonymous access defaults to allowed.
  EXPECT_TRUE(l.security.allow_anonymous);
  EXPECT_TRUE(c.security.allow_anonymous);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(ConfigDefaults, GlobalDefaults) {
  const auto c = parse("");
  EXPECT_FALSE(c.per_listener_settings);
  EXPECT_EQ(c.listener_default_bind, cfg::bind_scope::loopback);
  EXPECT_FALSE(c.security.password_file);
  EXPECT_FALSE(c.security.acl_file);
  EXPECT_TRUE(c.security.allow_zero_length_clientid);
  EXPECT_EQ(c.security.auto_id_prefix, "auto-");
  EXPECT_FALSE(c.max_packet_size);
  EXPECT_EQ(c.message_size_limit, 0u);
  EXPECT_EQ(c.max_inflight_messages, 20);
  EXPECT_EQ(c.max_inflight_bytes, 0u);
  EXPECT_EQ(c.max_queued_messages, 1000u);
  EXPECT_EQ(c.max_queued_bytes, 0u);
  EXPECT_EQ(c.max_keepalive, 65535);
  EXPECT_FALSE(c.persistent_client_expiration);
  EXPECT_FALSE(c.persistence);
  EXPECT_TRUE(c.persistence_location.empty());
  EXPECT_EQ(c.persistence_file, "natter.db");
  EXPECT_EQ(cfg::persistence_path(c), fs::path("natter.db"));
  EXPECT_EQ(c.autosave_interval, 1800s);
  EXPECT_EQ(c.persistence_sync, cfg::sync_mode::always);
  EXPECT_TRUE(c.retain_available);
  EXPECT_TRUE(c.check_retain_source);
  EXPECT_EQ(c.sys_interval, 10s);
  EXPECT_FALSE(c.set_tcp_nodelay);
  EXPECT_FALSE(c.upgrade_outgoing_qos);
  EXPECT_FALSE(c.queue_qos0_messages);
  EXPECT_FALSE(c.pid_file);
  EXPECT_FALSE(c.user);
  EXPECT_FALSE(c.log.to_stdout);
  EXPECT_TRUE(c.log.to_stderr);
  EXPECT_FALSE(c.log.to_syslog);
  EXPECT_FALSE(c.log.file);
  EXPECT_TRUE(c.log.types.error && c.log.types.warning && c.log.types.notice &&
              c.log.types.information);
  EXPECT_FALSE(c.log.types.debug || c.log.types.subscribe || c.log.types.unsubscribe ||
               c.log.types.websockets);
  EXPECT_TRUE(c.log.timestamp);
  EXPECT_FALSE(c.log.timestamp_format);
  EXPECT_FALSE(c.log.facility);
  EXPECT_TRUE(c.log.connection_messages);
  EXPECT_EQ(c.connect_timeout, 10s);
  EXPECT_EQ(c.max_subscriptions_per_client, 0u);
  EXPECT_EQ(c.message_rate_limit, 0u);
  EXPECT_FALSE(c.chat_enabled);  // a drop-in broker claims no topics
}

TEST(ConfigFormat, CommentsBlankLinesAndWhitespace) {
  const auto c = parse(
      "# a comment\n"
      "\n"
      "   \t \n"
      "   # an indented comment (Mosquitto rejects this one; we do not)\n"
      "listener 1883\r\n"
      "\tmax_connections\t12   \r\n"
      "allow_anonymous true # a comment after a one-word value\n"
      "password_file   /etc/my dir/passwd   \n"
      "max_qos 1");  // no final newline
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].max_connections, 12);
  EXPECT_EQ(c.listeners[0].max_qos, 1);
  EXPECT_TRUE(c.security.allow_anonymous);
  // Strings are the rest of the line, as in Mosquitto: spaces inside are kept.
  EXPECT_EQ(c.security.password_file, fs::path("/etc/my dir/passwd"));
}

TEST(ConfigFormat, ByteOrderMarkIsSkipped) {
  EXPECT_EQ(parse("\xEF\xBB\xBFlistener 1884\n").listeners[0].port, 1884);
}

TEST(ConfigFormat, BooleansAreTrueFalseAndMosquittosOneZero) {
  EXPECT_TRUE(parse("retain_available true").retain_available);
  EXPECT_FALSE(parse("retain_available false").retain_available);
  EXPECT_TRUE(parse("retain_available 1").retain_available);  // Mosquitto 2.0.11 accepts these
  EXPECT_FALSE(parse("retain_available 0").retain_available);
  EXPECT_EQ(error_of("\nretain_available yes\n"),
            "test.conf:2: `retain_available` expects true or false, got `yes`");
  EXPECT_EQ(error_of("retain_available True"),
            "test.conf:1: `retain_available` expects true or false, got `True`");
}

// ---------------------------------------------------------------- error messages

TEST(ConfigErrors, UnknownKey) {
  EXPECT_EQ(error_of("listener 1883\n\nfoo bar\n"), "test.conf:3: unknown key `foo`");
}

TEST(ConfigErrors, UnknownKeySuggestsACloseOne) {
  EXPECT_EQ(error_of("allow_anonymus true"),
            "test.conf:1: unknown key `allow_anonymus` (did you mean `allow_anonymous`?)");
}

TEST(ConfigErrors, BadInteger) {
  EXPECT_EQ(error_of("listener 1883\nmax_connections abc\n"),
            "test.conf:2: `max_connections` expects an integer, got `abc`");
  EXPECT_EQ(error_of("max_inflight_messages 12x"),
            "test.conf:1: `max_inflight_messages` expects an integer, got `12x`");
  EXPECT_EQ(error_of("max_inflight_messages 1.5"),
            "test.conf:1: `max_inflight_messages` expects an integer, got `1.5`");
}

TEST(ConfigErrors, BadBoolean) {
  EXPECT_EQ(error_of("# x\nallow_anonymous maybe"),
            "test.conf:2: `allow_anonymous` expects true or false, got `maybe`");
}

TEST(ConfigErrors, MissingValue) {
  EXPECT_EQ(error_of("allow_anonymous\n"), "test.conf:1: missing value for `allow_anonymous`");
  EXPECT_EQ(error_of("\n\npassword_file    \n"), "test.conf:3: missing value for `password_file`");
  EXPECT_EQ(error_of("listener\n"), "test.conf:1: missing port for `listener`");
  EXPECT_EQ(error_of("max_keepalive # nothing"), "test.conf:1: missing value for `max_keepalive`");
}

TEST(ConfigErrors, ExtraValue) {
  EXPECT_EQ(error_of("allow_anonymous true false"),
            "test.conf:1: `allow_anonymous` takes one value; unexpected `false` (a comment must "
            "start with #)");
}

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(error_of("max_keepalive 65536"),
            "test.conf:1: `max_keepalive` value 65536 is out of range (0 to 65535)");
  EXPECT_EQ(error_of("max_packet_size 19"),
            "test.conf:1: `max_packet_size` value 19 is out of range (20 to 268435460)");
  EXPECT_NE(error_of("max_packet_size 268435461"), "");
  EXPECT_NE(error_of("message_size_limit 268435456"), "");
  EXPECT_NE(error_of("max_inflight_messages 65536"), "");
  EXPECT_NE(error_of("max_inflight_bytes -1"), "");
  EXPECT_NE(error_of("sys_interval 65536"), "");
  EXPECT_NE(error_of("connect_timeout 0"), "");
  EXPECT_NE(error_of("log_facility 8"), "");
  EXPECT_NE(error_of("port 0"), "");
  EXPECT_NE(error_of("port 65536"), "");
  EXPECT_NE(error_of("listener 1883\nmax_qos 3"), "");
  EXPECT_NE(error_of("listener 1883\nmax_topic_alias 65536"), "");
  EXPECT_EQ(error_of("listener 1883\nmax_connections -2"),
            "test.conf:2: `max_connections` value -2 is out of range (-1 to 2147483647)");
  EXPECT_EQ(error_of("max_queued_bytes 99999999999999999999"),
            "test.conf:1: `max_queued_bytes` value 99999999999999999999 is out of range (0 to "
            "9223372036854775807)");
  EXPECT_EQ(error_of("listener 70000"),
            "test.conf:1: `listener` value 70000 is out of range (0 to 65535)");
}

TEST(ConfigErrors, BadEnum) {
  EXPECT_EQ(error_of("listener 1883\nprotocol http"),
            "test.conf:2: `protocol` expects one of mqtt, websockets; got `http`");
  EXPECT_EQ(error_of("persistence_sync sometimes"),
            "test.conf:1: `persistence_sync` expects one of always, batch, none; got `sometimes`");
}

TEST(ConfigErrors, InvalidUtf8) {
  EXPECT_EQ(error_of("password_file /etc/\xff"),
            "test.conf:1: `password_file` value is not valid UTF-8");
  EXPECT_NE(error_of("auto_id_prefix \xc0\xaf"), "");  // overlong '/'
  EXPECT_EQ(error_of("auto_id_prefix h\xc3\xa9-"), "");
}

TEST(ConfigErrors, ErrorCarriesFileLineAndMessage) {
  try {
    cfg::parse_config("\n\nnope 1\n", "/etc/natter/natter.conf");
    FAIL() << "no error";
  } catch (const cfg::config_error& e) {
    EXPECT_EQ(e.file(), "/etc/natter/natter.conf");
    EXPECT_EQ(e.line(), 3u);
    EXPECT_EQ(e.message(), "unknown key `nope`");
    EXPECT_STREQ(e.what(), "/etc/natter/natter.conf:3: unknown key `nope`");
  }
}

// ---------------------------------------------------------------- global keys

TEST(ConfigGlobal, EveryGlobalKey) {
  const auto c = parse(
      "listener 1883\n"
      "max_packet_size 1000\n"
      "message_size_limit 500\n"
      "max_inflight_messages 5\n"
      "max_inflight_bytes 100000\n"
      "max_queued_messages 0\n"
      "max_queued_bytes 2000000\n"
      "max_keepalive 120\n"
      "persistent_client_expiration 2d\n"
      "persistence true\n"
      "persistence_location /var/lib/natter/\n"
      "persistence_file store.db\n"
      "persistence_sync always\n"
      "autosave_interval 60\n"
      "retain_available false\n"
      "check_retain_source false\n"
      "sys_interval 0\n"
      "set_tcp_nodelay true\n"
      "upgrade_outgoing_qos true\n"
      "queue_qos0_messages true\n"
      "pid_file /run/natter/natter.pid\n"
      "user natter\n"
      "log_timestamp false\n"
      "log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
      "log_facility 5\n"
      "connection_messages false\n"
      "connect_timeout 30\n"
      "max_subscriptions_per_client 100\n"
      "message_rate_limit 50\n"
      "chat_enabled false\n"
      "allow_zero_length_clientid false\n"
      "auto_id_prefix gen-\n"
      "acl_file /etc/natter/acl\n");
  EXPECT_EQ(c.max_packet_size, 1000u);
  EXPECT_EQ(c.message_size_limit, 500u);
  EXPECT_EQ(c.max_inflight_messages, 5);
  EXPECT_EQ(c.max_inflight_bytes, 100000u);
  EXPECT_EQ(c.max_queued_messages, 0u);
  EXPECT_EQ(c.max_queued_bytes, 2000000u);
  EXPECT_EQ(c.max_keepalive, 120);
  EXPECT_EQ(c.persistent_client_expiration, std::chrono::seconds(2 * 86400));
  EXPECT_TRUE(c.persistence);
  EXPECT_EQ(c.persistence_location, fs::path("/var/lib/natter/"));
  EXPECT_EQ(c.persistence_file, "store.db");
  EXPECT_EQ(cfg::persistence_path(c), fs::path("/var/lib/natter/store.db"));
  EXPECT_EQ(c.persistence_sync, cfg::sync_mode::always);
  EXPECT_EQ(c.autosave_interval, 60s);
  EXPECT_FALSE(c.retain_available);
  EXPECT_FALSE(c.check_retain_source);
  EXPECT_EQ(c.sys_interval, 0s);
  EXPECT_TRUE(c.set_tcp_nodelay);
  EXPECT_TRUE(c.upgrade_outgoing_qos);
  EXPECT_TRUE(c.queue_qos0_messages);
  EXPECT_EQ(c.pid_file, fs::path("/run/natter/natter.pid"));
  EXPECT_EQ(c.user, "natter");
  EXPECT_FALSE(c.log.timestamp);
  EXPECT_EQ(c.log.timestamp_format, "%Y-%m-%dT%H:%M:%S");
  EXPECT_EQ(c.log.facility, 5);
  EXPECT_FALSE(c.log.connection_messages);
  EXPECT_EQ(c.connect_timeout, 30s);
  EXPECT_EQ(c.max_subscriptions_per_client, 100u);
  EXPECT_EQ(c.message_rate_limit, 50u);
  EXPECT_FALSE(c.chat_enabled);
  EXPECT_FALSE(c.security.allow_zero_length_clientid);
  EXPECT_EQ(c.security.auto_id_prefix, "gen-");
  EXPECT_EQ(c.security.acl_file, fs::path("/etc/natter/acl"));
  EXPECT_EQ(c.listeners[0].security.acl_file, fs::path("/etc/natter/acl"));
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(ConfigGlobal, PersistenceSyncValues) {
  EXPECT_EQ(parse("persistence_sync always").persistence_sync, cfg::sync_mode::always);
  EXPECT_EQ(parse("persistence_sync batch").persistence_sync, cfg::sync_mode::batch);
  EXPECT_EQ(parse("persistence_sync none").persistence_sync, cfg::sync_mode::none);
  EXPECT_EQ(cfg::to_string(cfg::sync_mode::none), "none");
}

TEST(ConfigGlobal, MosquittoDurations) {
  const auto d = [](std::string_view v) {
    return *parse("persistent_client_expiration " + std::string(v)).persistent_client_expiration;
  };
  EXPECT_EQ(d("1h"), 3600s);
  EXPECT_EQ(d("2d"), std::chrono::seconds(2 * 86400));
  EXPECT_EQ(d("1w"), std::chrono::seconds(7 * 86400));
  EXPECT_EQ(d("1m"), std::chrono::seconds(30 * 86400));  // a month, as in Mosquitto
  EXPECT_EQ(d("1y"), std::chrono::seconds(365 * 86400));
  EXPECT_EQ(error_of("persistent_client_expiration 5"),
            "test.conf:1: `persistent_client_expiration` expects a duration such as 1h, 2d, 1w, "
            "1m (30 days) or 1y, got `5`");
  EXPECT_NE(error_of("persistent_client_expiration h"), "");
  EXPECT_NE(error_of("persistent_client_expiration 1x"), "");
  EXPECT_NE(error_of("persistent_client_expiration -1d"), "");
  EXPECT_NE(error_of("persistent_client_expiration 0d"), "");
  EXPECT_NE(error_of("persistent_client_expiration 99999y"), "");
}

TEST(ConfigGlobal, LogDest) {
  auto c = parse("log_dest stdout\nlog_dest file /var/log/natter/natter.log\n");
  EXPECT_TRUE(c.log.to_stdout);
  EXPECT_FALSE(c.log.to_stderr);  // the first log_dest replaces the default
  EXPECT_EQ(c.log.file, fs::path("/var/log/natter/natter.log"));

  c = parse("log_dest syslog stderr\n");
  EXPECT_TRUE(c.log.to_syslog);
  EXPECT_TRUE(c.log.to_stderr);

  c = parse("log_dest stdout\nlog_dest none\n");
  EXPECT_FALSE(c.log.to_stdout || c.log.to_stderr || c.log.to_syslog || c.log.file);

  c = parse("log_dest topic\n");
  EXPECT_TRUE(has_warning(c, "test.conf:1: `log_dest topic` is not supported by Natter; ignored"));

  EXPECT_EQ(error_of("log_dest printer"),
            "test.conf:1: `log_dest` expects one of stdout, stderr, syslog, file PATH, none; got "
            "`printer`");
  EXPECT_EQ(error_of("log_dest file"), "test.conf:1: missing path after `log_dest file`");
  EXPECT_EQ(error_of("log_dest"), "test.conf:1: missing value for `log_dest`");
}

TEST(ConfigGlobal, LogType) {
  auto c = parse("log_type debug\nlog_type subscribe unsubscribe\n");
  EXPECT_TRUE(c.log.types.debug && c.log.types.subscribe && c.log.types.unsubscribe);
  EXPECT_FALSE(c.log.types.error || c.log.types.information || c.log.types.websockets);

  c = parse("log_type all");
  EXPECT_TRUE(c.log.types.error && c.log.types.debug && c.log.types.websockets);
  c = parse("log_type all\nlog_type none\nlog_type warning\n");
  EXPECT_TRUE(c.log.types.warning);
  EXPECT_FALSE(c.log.types.error || c.log.types.debug);
  c = parse("log_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
  EXPECT_TRUE(c.log.types.error && c.log.types.warning && c.log.types.notice &&
              c.log.types.information);

  EXPECT_NE(error_of("log_type verbose").find("`log_type` expects one of"), std::string::npos);
}

TEST(ConfigGlobal, LaterSettingOverridesWithAWarning) {
  const auto c = parse(
      "password_file /a\nallow_anonymous false\npassword_file /b\n"
      "allow_anonymous false\n");
  EXPECT_EQ(c.security.password_file, fs::path("/b"));
  ASSERT_EQ(c.warnings.size(), 1u);  // the same value again is not worth a warning
  EXPECT_EQ(c.warnings[0], "test.conf:3: `password_file` overrides the value set at test.conf:1");
}

// ---------------------------------------------------------------- listeners

TEST(ConfigListener, ListenerEndsLocalOnlyMode) {
  const auto c = parse("listener 1883\n");
  EXPECT_FALSE(c.local_only);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_FALSE(c.listeners[0].implicit);
  EXPECT_EQ(c.listeners[0].defined_at, "test.conf:1");
  // Mosquitto 2: anonymous access is off once listeners are configured.
  EXPECT_FALSE(c.listeners[0].security.allow_anonymous);
  EXPECT_FALSE(c.security.allow_anonymous);
  // Natter: no address means loopback, unlike Mosquitto.
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"127.0.0.1", "::1"}));
}

TEST(ConfigListener, ExplicitAddress) {
  const auto c = parse("listener 1883 0.0.0.0\nlistener 1884 ::\nlistener 1885 broker.example\n");
  ASSERT_EQ(c.listeners.size(), 3u);
  EXPECT_EQ(c.listeners[0].bind_address, "0.0.0.0");
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"0.0.0.0"}));
  EXPECT_EQ(c.listeners[1].bind_addresses, (addresses{"::"}));
  EXPECT_EQ(c.listeners[2].bind_addresses, (addresses{"broker.example"}));
  EXPECT_EQ(c.listeners[2].port, 1885);
}

TEST(ConfigListener, ListenerDefaultBindAllAppliesToListenersWithoutAddress) {
  // Order does not matter: it is resolved at the end.
  const auto c = parse("listener 1883\nlistener 1884 127.0.0.1\nlistener_default_bind all\n");
  EXPECT_EQ(c.listener_default_bind, cfg::bind_scope::all);
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"0.0.0.0", "::"}));
  EXPECT_EQ(c.listeners[1].bind_addresses, (addresses{"127.0.0.1"}));
  EXPECT_EQ(parse("listener_default_bind loopback\nlistener 1883").listeners[0].bind_addresses,
            (addresses{"127.0.0.1", "::1"}));
}

TEST(ConfigListener, LocalOnlyModeStaysOnLoopbackWhateverListenerDefaultBind) {
  const auto c = parse("listener_default_bind all\n");
  ASSERT_TRUE(c.local_only);
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"127.0.0.1", "::1"}));
}

TEST(ConfigListener, SocketDomainFiltersDefaultAddresses) {
  auto c = parse("listener 1883\nsocket_domain ipv4\nlistener 1884\nsocket_domain ipv6\n");
  EXPECT_EQ(c.listeners[0].socket_domain, cfg::address_family::ipv4);
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"127.0.0.1"}));
  EXPECT_EQ(c.listeners[1].bind_addresses, (addresses{"::1"}));
  c = parse("listener_default_bind all\nlistener 1883\nsocket_domain ipv6\n");
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"::"}));
}

TEST(ConfigListener, BindInterfaceListensOnWildcardsOfThatInterface) {
  const auto c = parse("listener 1883\nbind_interface eth0\n");
  EXPECT_EQ(c.listeners[0].bind_interface, "eth0");
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"0.0.0.0", "::"}));
  EXPECT_NE(error_of("bind_interface eth0\n").find("local-only mode"), std::string::npos);
}

TEST(ConfigListener, KeysApplyToTheLatestListener) {
  const auto c = parse(
      "listener 1883\n"
      "max_connections 10\n"
      "listener 8080\n"
      "protocol websockets\n"
      "max_connections 20\n"
      "http_dir /usr/share/natter/www\n");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].max_connections, 10);
  EXPECT_EQ(c.listeners[0].protocol, cfg::listener_protocol::mqtt);
  EXPECT_FALSE(c.listeners[0].http_dir);
  EXPECT_EQ(c.listeners[1].max_connections, 20);
  EXPECT_EQ(c.listeners[1].protocol, cfg::listener_protocol::websockets);
  EXPECT_EQ(c.listeners[1].http_dir, fs::path("/usr/share/natter/www"));
  EXPECT_EQ(cfg::to_string(c.listeners[1].protocol), "websockets");
}

TEST(ConfigListener, EveryListenerKey) {
  const auto c = parse(
      "listener 8883 192.0.2.10\n"
      "protocol mqtt\n"
      "max_connections -1\n"
      "max_qos 1\n"
      "max_topic_alias 0\n"
      "mount_point tenant/a/\n"
      "socket_domain ipv4\n"
      "use_username_as_clientid true\n"
      "certfile /etc/natter/certs/server.crt\n"
      "keyfile /etc/natter/certs/server.key\n"
      "cafile /etc/natter/certs/ca.crt\n"
      "capath /etc/natter/certs/ca.d\n"
      "crlfile /etc/natter/certs/ca.crl\n"
      "require_certificate true\n"
      "use_identity_as_username true\n"
      "use_subject_as_username true\n"
      "tls_version tlsv1.3\n"
      "ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384\n"
      "ciphers_tls1.3 TLS_AES_256_GCM_SHA384\n"
      "tls_keyform pem\n");
  ASSERT_EQ(c.listeners.size(), 1u);
  const auto& l = c.listeners[0];
  EXPECT_EQ(l.port, 8883);
  EXPECT_EQ(l.max_connections, -1);
  EXPECT_EQ(l.max_qos, 1);
  EXPECT_EQ(l.max_topic_alias, 0);
  EXPECT_EQ(l.mount_point, "tenant/a/");
  EXPECT_EQ(l.socket_domain, cfg::address_family::ipv4);
  EXPECT_TRUE(l.use_username_as_clientid);
  ASSERT_TRUE(l.tls);
  EXPECT_EQ(l.tls->certfile, fs::path("/etc/natter/certs/server.crt"));
  EXPECT_EQ(l.tls->keyfile, fs::path("/etc/natter/certs/server.key"));
  EXPECT_EQ(l.tls->cafile, fs::path("/etc/natter/certs/ca.crt"));
  EXPECT_EQ(l.tls->capath, fs::path("/etc/natter/certs/ca.d"));
  EXPECT_EQ(l.tls->crlfile, fs::path("/etc/natter/certs/ca.crl"));
  EXPECT_TRUE(l.tls->require_certificate);
  EXPECT_TRUE(l.tls->use_identity_as_username);
  EXPECT_TRUE(l.tls->use_subject_as_username);
  EXPECT_EQ(l.tls->min_version, cfg::tls_protocol_version::tlsv1_3);
  EXPECT_EQ(l.tls->ciphers, "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384");
  EXPECT_EQ(l.tls->ciphers_tls13, "TLS_AES_256_GCM_SHA384");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
}

TEST(ConfigListener, TlsVersions) {
  const auto v = [](std::string_view s) {
    return *parse("listener 8883\ncertfile c\nkeyfile k\ntls_version " + std::string(s))
                .listeners[0]
                .tls->min_version;
  };
  EXPECT_EQ(v("tlsv1.1"), cfg::tls_protocol_version::tlsv1_1);
  EXPECT_EQ(v("tlsv1.2"), cfg::tls_protocol_version::tlsv1_2);
  EXPECT_EQ(v("tlsv1.3"), cfg::tls_protocol_version::tlsv1_3);
  EXPECT_FALSE(parse("listener 8883\ncertfile c\nkeyfile k\n").listeners[0].tls->min_version);
  EXPECT_NE(error_of("listener 8883\ncertfile c\nkeyfile k\ntls_version sslv3"), "");
}

TEST(ConfigListener, CertfileWithoutKeyfile) {
  EXPECT_EQ(error_of("listener 8883\ncertfile /c.crt\n"),
            "test.conf:2: `certfile` without `keyfile` (listener 8883)");
  EXPECT_EQ(error_of("listener 8883\n\nkeyfile /c.key\n"),
            "test.conf:3: `keyfile` without `certfile` (listener 8883)");
}

TEST(ConfigListener, TlsSwitchesNeedTls) {
  EXPECT_EQ(error_of("listener 1883\nrequire_certificate true\n"),
            "test.conf:2: `require_certificate` needs `certfile` and `keyfile` on the same "
            "listener (listener 1883)");
  EXPECT_EQ(error_of("listener 1883\nrequire_certificate false\n"), "");
  const auto c = parse("listener 1883\ncafile /ca.crt\n");
  EXPECT_FALSE(c.listeners[0].tls);
  EXPECT_TRUE(has_warning(c, "test.conf:2: `cafile` is ignored"));
  EXPECT_EQ(error_of("listener 8883\ncertfile c\nkeyfile k\nrequire_certificate true\n"),
            "test.conf:4: `require_certificate true` needs `cafile` or `capath` to verify client "
            "certificates (listener 8883)");
  EXPECT_EQ(error_of("listener 8883\ncertfile c\nkeyfile k\nuse_identity_as_username true\n"),
            "test.conf:4: `use_identity_as_username` needs `require_certificate true` (listener "
            "8883)");
  EXPECT_EQ(error_of("listener 8883\ntls_keyform engine\n"),
            "test.conf:2: `tls_keyform engine`: OpenSSL engines are not supported by Natter");
}

TEST(ConfigListener, HttpDirOnAnMqttListenerIsIgnoredWithAWarning) {
  const auto c = parse("listener 1883\nhttp_dir /www\n");
  EXPECT_TRUE(has_warning(c, "test.conf:2: `http_dir` is ignored"));
}

TEST(ConfigListener, MountPoint) {
  EXPECT_EQ(error_of("mount_point a/\n"),
            "test.conf:1: `mount_point` must follow a `listener` line");
  EXPECT_EQ(error_of("listener 1883\nmount_point a/#\n"),
            "test.conf:2: `mount_point` must not contain the wildcards + or #");
}

TEST(ConfigListener, DuplicatedPort) {
  EXPECT_EQ(error_of("listener 1883\nlistener 8883\n\nlistener 1883\n"),
            "test.conf:4: duplicated `listener` 1883 (already defined at test.conf:1)");
  // Same port, different addresses: fine; a wildcard and an address of its family: not.
  EXPECT_EQ(error_of("listener 1883 127.0.0.1\nlistener 1883 192.0.2.1\n"), "");
  EXPECT_NE(error_of("listener 1883 0.0.0.0\nlistener 1883 192.0.2.1\n"), "");
  EXPECT_EQ(error_of("listener 1883 0.0.0.0\nlistener 1883 ::1\n"), "");
  // No address means loopback, which an explicit loopback address clashes with.
  EXPECT_NE(error_of("listener 1883\nlistener 1883 ::1\n"), "");
  EXPECT_EQ(error_of("port 1883\nlistener 1883\n"),
            "test.conf:1: duplicated `listener` 1883 (already defined at test.conf:2); `port` "
            "adds a listener besides the `listener` lines");
}

TEST(ConfigListener, ListenerLineErrors) {
  EXPECT_EQ(error_of("listener abc"), "test.conf:1: `listener` expects an integer, got `abc`");
  EXPECT_EQ(error_of("listener 1883 127.0.0.1 extra"),
            "test.conf:1: `listener` takes a port and an optional address; unexpected `extra`");
  EXPECT_EQ(error_of("listener 1883 127.0.0.1 # comment"), "");
  EXPECT_EQ(error_of("listener 0"),
            "test.conf:1: `listener 0` needs a Unix socket path: listener 0 "
            "/run/natter/natter.sock");
}

TEST(ConfigListener, UnixSocket) {
  const auto c = parse("listener 0 /run/natter/natter.sock\nlistener 1883\n");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].port, 0);
  EXPECT_EQ(c.listeners[0].unix_socket_path, fs::path("/run/natter/natter.sock"));
  EXPECT_TRUE(c.listeners[0].bind_addresses.empty());
  EXPECT_EQ(error_of("listener 0 /s\nlistener 0 /s\n"),
            "test.conf:2: duplicated `listener` /s (already defined at test.conf:1)");
}

TEST(ConfigListener, DeprecatedPortMakesTheDefaultListener) {
  const auto c = parse("port 1884\n");
  EXPECT_FALSE(c.local_only);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_TRUE(c.listeners[0].implicit);
  EXPECT_EQ(c.listeners[0].port, 1884);
  EXPECT_EQ(c.listeners[0].defined_at, "test.conf:1");
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"127.0.0.1", "::1"}));
  EXPECT_FALSE(c.listeners[0].security.allow_anonymous);
  EXPECT_TRUE(has_warning(c, "test.conf:1: `port` is deprecated"));
}

TEST(ConfigListener, PortAndListenersGiveBothAsInMosquitto) {
  const auto c = parse(
      "port 1884\n"
      "max_connections 5\n"  // before any listener line: the default listener's
      "listener 9001\n"
      "protocol websockets\n");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].port, 9001);
  EXPECT_EQ(c.listeners[0].protocol, cfg::listener_protocol::websockets);
  EXPECT_EQ(c.listeners[0].max_connections, -1);
  EXPECT_EQ(c.listeners[1].port, 1884);  // the default listener comes last, as in Mosquitto
  EXPECT_TRUE(c.listeners[1].implicit);
  EXPECT_EQ(c.listeners[1].max_connections, 5);
}

TEST(ConfigListener, DeprecatedBindAddress) {
  const auto c = parse("bind_address 0.0.0.0\n");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_FALSE(c.local_only);
  EXPECT_EQ(c.listeners[0].port, 1883);
  EXPECT_EQ(c.listeners[0].bind_addresses, (addresses{"0.0.0.0"}));
  EXPECT_TRUE(has_warning(c, "`bind_address` is deprecated"));
}

TEST(ConfigListener, ListenerKeysConfigureTheLocalOnlyListener) {
  const auto c = parse("max_connections 5\nprotocol websockets\n");
  ASSERT_TRUE(c.local_only);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].max_connections, 5);
  EXPECT_EQ(c.listeners[0].protocol, cfg::listener_protocol::websockets);
}

TEST(ConfigListener, ListenerKeyBeforeAnyListenerLineIsAnErrorWhenThereIsNoDefaultListener) {
  // Mosquitto would open an extra TLS listener on port 1883, on every interface.
  EXPECT_EQ(error_of("certfile /c\nkeyfile /k\nlistener 8883\n"),
            "test.conf:1: `certfile` comes before any `listener` line in its file, so it "
            "configures the default listener, which does not exist here (there are `listener` "
            "lines and no `port`); move it after the `listener` line it belongs to");
}

// ---------------------------------------------------------------- per_listener_settings

TEST(ConfigSecurity, GlobalByDefaultEvenAfterAListener) {
  const auto c = parse(
      "listener 1883\n"
      "listener 8883 0.0.0.0\n"
      "allow_anonymous true\n"
      "password_file /etc/natter/passwd\n"
      "acl_file /etc/natter/acl\n");
  EXPECT_FALSE(c.per_listener_settings);
  for (const auto& l : c.listeners) {
    EXPECT_TRUE(l.security.allow_anonymous);
    EXPECT_EQ(l.security.password_file, fs::path("/etc/natter/passwd"));
    EXPECT_EQ(l.security.acl_file, fs::path("/etc/natter/acl"));
  }
  EXPECT_EQ(c.security.password_file, fs::path("/etc/natter/passwd"));
}

TEST(ConfigSecurity, PerListenerSettings) {
  const auto c = parse(
      "per_listener_settings true\n"
      "listener 1883\n"
      "allow_anonymous true\n"
      "acl_file /etc/natter/acl.local\n"
      "listener 8883 0.0.0.0\n"
      "password_file /etc/natter/passwd\n"
      "allow_zero_length_clientid false\n"
      "auto_id_prefix tls-\n");
  EXPECT_TRUE(c.per_listener_settings);
  ASSERT_EQ(c.listeners.size(), 2u);
  const auto& a = c.listeners[0].security;
  const auto& b = c.listeners[1].security;
  EXPECT_TRUE(a.allow_anonymous);
  EXPECT_FALSE(a.password_file);
  EXPECT_EQ(a.acl_file, fs::path("/etc/natter/acl.local"));
  EXPECT_TRUE(a.allow_zero_length_clientid);
  EXPECT_EQ(a.auto_id_prefix, "auto-");
  EXPECT_FALSE(b.allow_anonymous);  // the Mosquitto 2 default, per listener
  EXPECT_EQ(b.password_file, fs::path("/etc/natter/passwd"));
  EXPECT_FALSE(b.acl_file);
  EXPECT_FALSE(b.allow_zero_length_clientid);
  EXPECT_EQ(b.auto_id_prefix, "tls-");
}

TEST(ConfigSecurity, PerListenerSettingsMustComeFirst) {
  EXPECT_EQ(error_of("allow_anonymous true\nlistener 1883\nper_listener_settings true\n"),
            "test.conf:3: per_listener_settings must come before any security setting "
            "(`allow_anonymous` at test.conf:1)");
  EXPECT_EQ(error_of("allow_anonymous true\nper_listener_settings false\n"), "");
}

TEST(ConfigSecurity, PerListenerSettingsCannotBeTurnedOff) {
  const auto c = parse("per_listener_settings true\nper_listener_settings false\n");
  EXPECT_TRUE(c.per_listener_settings);
  EXPECT_TRUE(has_warning(c, "test.conf:2: per_listener_settings cannot be turned off"));
}

TEST(ConfigSecurity, PerListenerSecurityBeforeAnyListenerNeedsTheDefaultListener) {
  EXPECT_NE(error_of("per_listener_settings true\nallow_anonymous false\nlistener 1883\n")
                .find("test.conf:2: `allow_anonymous` comes before any `listener` line"),
            std::string::npos);
  // In local-only mode the default listener exists and takes them.
  const auto c = parse("per_listener_settings true\npassword_file /p\n");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].security.password_file, fs::path("/p"));
  EXPECT_TRUE(c.listeners[0].security.allow_anonymous);
}

TEST(ConfigSecurity, ExplicitAllowAnonymousFalseInLocalOnlyMode) {
  const auto c = parse("allow_anonymous false\n");
  EXPECT_TRUE(c.local_only);
  EXPECT_FALSE(c.listeners[0].security.allow_anonymous);
}

// ---------------------------------------------------------------- unsupported Mosquitto keys

TEST(ConfigUnsupported, BehaviourChangingKeysAreErrors) {
  EXPECT_EQ(error_of("connection remote\naddress 192.0.2.1:1883\n"),
            "test.conf:1: bridges (`connection`) are not supported by Natter");
  EXPECT_EQ(error_of("address 192.0.2.1"),
            "test.conf:1: `address` configures a bridge; bridges are not supported by Natter");
  EXPECT_EQ(error_of("bridge_cafile /ca"),
            "test.conf:1: `bridge_cafile` configures a bridge; bridges are not supported by "
            "Natter");
  EXPECT_EQ(error_of("auth_plugin /usr/lib/auth.so"),
            "test.conf:1: `auth_plugin`: plugins are not supported by Natter");
  EXPECT_EQ(error_of("plugin /usr/lib/mosquitto_dynamic_security.so"),
            "test.conf:1: `plugin`: plugins are not supported by Natter");
  EXPECT_EQ(error_of("plugin_opt_config_file /x"),
            "test.conf:1: `plugin_opt_config_file`: plugins are not supported by Natter");
  EXPECT_NE(error_of("auth_opt_backends mysql"), "");
  EXPECT_NE(error_of("listener 8883\npsk_hint natter"), "");
  EXPECT_NE(error_of("psk_file /etc/psk"), "");
  EXPECT_NE(error_of("listener 8883\ntls_engine pkcs11"), "");
  EXPECT_NE(error_of("clientid_prefixes secure-"), "");
  EXPECT_NE(error_of("listener 8080\nwebsockets_origin https://example.com"), "");
}

TEST(ConfigUnsupported, HarmlessKeysAreWarnings) {
  const auto c = parse(
      "memory_limit 1000000\n"
      "websockets_log_level 255\n"
      "websockets_headers_size 4096\n"
      "allow_duplicate_messages true\n"
      "autosave_on_changes false\n"
      "retry_interval 20\n"
      "listener 8883\n"
      "dhparamfile /etc/dh.pem\n");
  EXPECT_EQ(c.warnings.size(), 7u);
  EXPECT_TRUE(has_warning(c, "test.conf:1: `memory_limit` is not supported by Natter; ignored"));
  EXPECT_TRUE(has_warning(c, "test.conf:8: `dhparamfile` is not supported by Natter; ignored"));
}

// ---------------------------------------------------------------- include_dir

TEST(ConfigInclude, LoadsConfFilesInMosquittoOrder) {
  temp_dir d;
  // Mosquitto's documented example order: 00 01 A a B b.
  const std::vector<std::string> names = {"b.conf", "A.conf", "01.conf",
                                          "a.conf", "B.conf", "00.conf"};
  const std::map<std::string, int> port = {{"00.conf", 1000}, {"01.conf", 1001}, {"A.conf", 1002},
                                           {"a.conf", 1003},  {"B.conf", 1004},  {"b.conf", 1005}};
  for (const auto& n : names) write_file(d / n, "listener " + std::to_string(port.at(n)) + "\n");
  write_file(d / "notes.txt", "this is not configuration\n");
  write_file(d / ".conf", "nor is this\n");
  write_file(d / "x.conf.bak", "nor this\n");

  const auto c = parse("include_dir " + d.path().string() + "\n");
  ASSERT_EQ(c.listeners.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(c.listeners[i].port, 1000 + i) << i;
  EXPECT_EQ(c.listeners[2].defined_at, (d / "A.conf").string() + ":1");
}

TEST(ConfigInclude, SeveralIncludeDirsInTheirOrder) {
  temp_dir d;
  fs::create_directory(d / "one.d");
  fs::create_directory(d / "two.d");
  write_file(d / "one.d" / "B.conf", "listener 2\n");
  write_file(d / "one.d" / "C.conf", "listener 3\n");
  write_file(d / "two.d" / "A.conf", "listener 1\n");
  write_file(d / "two.d" / "D.conf", "listener 4\n");
  const auto c = parse("include_dir " + (d / "one.d").string() + "\ninclude_dir " +
                       (d / "two.d").string() + "\n");
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_EQ(c.listeners[0].port, 2);
  EXPECT_EQ(c.listeners[1].port, 3);
  EXPECT_EQ(c.listeners[2].port, 1);
  EXPECT_EQ(c.listeners[3].port, 4);
}

TEST(ConfigInclude, RelativeDirResolvesAgainstTheWorkingDirectory) {
  temp_dir d;
  fs::create_directory(d / "conf.d");
  write_file(d / "conf.d" / "x.conf", "listener 1999\n");
  working_directory cwd(d.path());
  const auto c = parse("include_dir conf.d\n");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].port, 1999);
  EXPECT_EQ(c.listeners[0].defined_at, "conf.d/x.conf:1");
}

TEST(ConfigInclude, MissingDirIsAnError) {
  temp_dir d;
  const auto missing = (d / "nope").string();
  EXPECT_EQ(error_of("# x\ninclude_dir " + missing + "\n"),
            "test.conf:2: include_dir `" + missing + "` does not exist");
  write_file(d / "file", "");
  EXPECT_EQ(error_of("include_dir " + (d / "file").string()),
            "test.conf:1: include_dir `" + (d / "file").string() + "` is not a directory");
  EXPECT_EQ(error_of("include_dir"), "test.conf:1: missing value for `include_dir`");
}

TEST(ConfigInclude, ErrorInAnIncludedFileNamesThatFileAndLine) {
  temp_dir d;
  write_file(d / "10-ok.conf", "listener 1883\n");
  write_file(d / "20-bad.conf", "# comment\nlistener 8883\nmax_connections lots\n");
  EXPECT_EQ(error_of("include_dir " + d.path().string() + "\n"),
            (d / "20-bad.conf").string() + ":3: `max_connections` expects an integer, got `lots`");
  write_file(d / "20-bad.conf", "\nfoo 1\n");
  EXPECT_EQ(error_of("include_dir " + d.path().string() + "\n"),
            (d / "20-bad.conf").string() + ":2: unknown key `foo`");
}

TEST(ConfigInclude, EachFileStartsOutsideAnyListenerBlock) {
  temp_dir d;
  write_file(d / "a.conf", "max_connections 5\n");
  // As in Mosquitto, a.conf's key is not about the main file's listener...
  EXPECT_EQ(error_of("listener 1883\ninclude_dir " + d.path().string() + "\n"),
            (d / "a.conf").string() +
                ":1: `max_connections` comes before any `listener` line in its file, so it "
                "configures the default listener, which does not exist here (there are "
                "`listener` lines and no `port`); move it after the `listener` line it belongs "
                "to");
  // ...and the main file's listener block carries on after the include.
  write_file(d / "a.conf", "listener 8883\nmax_connections 5\n");
  const auto c = parse("listener 1883\ninclude_dir " + d.path().string() + "\nmax_connections 7\n");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].port, 1883);
  EXPECT_EQ(c.listeners[0].max_connections, 7);
  EXPECT_EQ(c.listeners[1].max_connections, 5);
}

TEST(ConfigInclude, IncludeDirInAnIncludedFileIsIgnored) {
  temp_dir d;
  write_file(d / "a.conf", "include_dir /nonexistent\n");
  const auto c = parse("include_dir " + d.path().string() + "\n");
  EXPECT_TRUE(has_warning(c, "include_dir is only honoured in the main configuration file"));
}

TEST(ConfigInclude, InstallGuideConfDFileIsAccepted) {
  // The file the install guide has users drop into conf.d, verbatim.
  const std::string guide = "allow_anonymous false\npassword_file /etc/mosquitto/passwd\n";
  const auto alone = parse(guide);
  EXPECT_FALSE(alone.security.allow_anonymous);
  EXPECT_EQ(alone.security.password_file, fs::path("/etc/mosquitto/passwd"));

  temp_dir d;
  write_file(d / "auth.conf", guide);
  const auto c = parse("listener 1883\ninclude_dir " + d.path().string() + "\n");
  EXPECT_FALSE(c.listeners[0].security.allow_anonymous);
  EXPECT_EQ(c.listeners[0].security.password_file, fs::path("/etc/mosquitto/passwd"));
  EXPECT_TRUE(c.warnings.empty());
}

// ---------------------------------------------------------------- load_config

TEST(ConfigLoad, LoadsAFileAndItsIncludes) {
  temp_dir d;
  fs::create_directory(d / "conf.d");
  write_file(d / "natter.conf", "listener 1883\ninclude_dir " + (d / "conf.d").string() + "\n");
  write_file(d / "conf.d" / "ws.conf", "listener 8080\nprotocol websockets\n");
  const auto c = cfg::load_config(d / "natter.conf");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].defined_at, (d / "natter.conf").string() + ":1");
  EXPECT_EQ(c.listeners[1].protocol, cfg::listener_protocol::websockets);
}

TEST(ConfigLoad, ErrorsNameTheFile) {
  temp_dir d;
  write_file(d / "natter.conf", "listener 1883\nallow_anonymous perhaps\n");
  try {
    cfg::load_config(d / "natter.conf");
    FAIL() << "no error";
  } catch (const cfg::config_error& e) {
    EXPECT_EQ(std::string(e.what()), (d / "natter.conf").string() +
                                         ":2: `allow_anonymous` expects true or false, got "
                                         "`perhaps`");
  }
  try {
    cfg::load_config(d / "missing.conf");
    FAIL() << "no error";
  } catch (const cfg::config_error& e) {
    EXPECT_EQ(e.line(), 0u);
    EXPECT_EQ(std::string(e.what()),
              (d / "missing.conf").string() + ": cannot open: No such file or directory");
  }
  EXPECT_THROW(cfg::load_config(d.path()), cfg::config_error);
}

TEST(ConfigLoad, IncludeDirMustNotContainTheMainFile) {
  temp_dir d;
  write_file(d / "natter.conf", "include_dir " + d.path().string() + "\n");
  try {
    cfg::load_config(d / "natter.conf");
    FAIL() << "no error";
  } catch (const cfg::config_error& e) {
    EXPECT_EQ(std::string(e.what()), (d / "natter.conf").string() + ":1: include_dir `" +
                                         d.path().string() +
                                         "` contains the main configuration file");
  }
}

// ---------------------------------------------------------------- the shipped configuration

namespace {

// packaging/natter.conf, with its include_dir pointed at `conf_d`.
std::string shipped_config(const fs::path& conf_d) {
  std::string text = read_file(NATTER_EXAMPLE_CONF);
  const std::string include = "include_dir /etc/natter/conf.d";
  const auto at = text.find(include);
  if (at == std::string::npos) return text;
  return text.replace(at, include.size(), "include_dir " + conf_d.string());
}

}  // namespace

TEST(ConfigShipped, PackagingNatterConfParses) {
  const std::string original = read_file(NATTER_EXAMPLE_CONF);
  ASSERT_FALSE(original.empty()) << NATTER_EXAMPLE_CONF;
  // It must end with the include_dir line (the last setting wins, so local files go last).
  std::istringstream lines(original);
  std::string line, last;
  while (std::getline(lines, line))
    if (!line.empty() && line[0] != '#') last = line;
  EXPECT_EQ(last, "include_dir /etc/natter/conf.d");

  temp_dir d;
  const auto c = cfg::parse_config(shipped_config(d.path()), "natter.conf");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings.front();
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].port, 1883);
  EXPECT_EQ(c.listeners[0].protocol, cfg::listener_protocol::mqtt);
  EXPECT_EQ(c.listeners[1].port, 8080);
  EXPECT_EQ(c.listeners[1].protocol, cfg::listener_protocol::websockets);
  EXPECT_TRUE(c.listeners[1].http_dir);
  EXPECT_TRUE(c.persistence);
  EXPECT_EQ(c.persistence_location, fs::path("/var/lib/natter/"));
  EXPECT_FALSE(c.per_listener_settings);
  for (const auto& l : c.listeners) {
    EXPECT_FALSE(l.security.allow_anonymous);
    EXPECT_EQ(l.security.password_file, fs::path("/etc/natter/passwd"));
    EXPECT_EQ(l.security.acl_file, fs::path("/etc/natter/acl"));
    EXPECT_EQ(l.bind_addresses, (addresses{"127.0.0.1", "::1"}));
  }
}

TEST(ConfigShipped, ShippedConfigWithTheInstallGuideConfD) {
  temp_dir d;
  write_file(d / "auth.conf", "allow_anonymous false\npassword_file /etc/mosquitto/passwd\n");
  const auto c = cfg::parse_config(shipped_config(d.path()), "natter.conf");
  for (const auto& l : c.listeners)
    EXPECT_EQ(l.security.password_file, fs::path("/etc/mosquitto/passwd"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("`password_file` overrides the value set at natter.conf:"),
            std::string::npos)
      << c.warnings[0];
}

TEST(ConfigShipped, EveryCommentedOutSettingIsValid) {
  // Uncomment every "#key value" line: the examples in the shipped file must all work.
  temp_dir d;
  std::istringstream in(shipped_config(d.path()));
  const std::regex setting("^#([a-z_][a-z0-9_.]*)( .*)?$");
  std::string line, text;
  int uncommented = 0;
  while (std::getline(in, line)) {
    if (std::regex_match(line, setting)) {
      line.erase(0, 1);
      ++uncommented;
    }
    text += line + '\n';
  }
  EXPECT_GT(uncommented, 20);
  try {
    const auto c = cfg::parse_config(text, "natter.conf");
    EXPECT_EQ(c.listeners.size(), 3u);
  } catch (const cfg::config_error& e) {
    FAIL() << e.what();
  }
}

TEST(ConfigDocs, EveryDocumentedKeyIsKnown) {
  // The first column of every table in docs/configuration.md names keys; none of them may be
  // an "unknown key" to the parser (supported, ignored and unsupported ones alike).
  std::istringstream in(read_file(NATTER_CONFIG_DOC));
  const std::regex key("`([a-z_][a-z0-9_.]*)[^`]*`");
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (!line.starts_with("| `")) continue;
    const std::string first = line.substr(0, line.find(" |", 2));
    for (std::sregex_iterator it(first.begin(), first.end(), key), end; it != end; ++it) {
      const std::string k = (*it)[1];
      if (k.ends_with("_")) continue;  // auth_opt_*, bridge_*...: prefixes
      ++checked;
      EXPECT_EQ(error_of("listener 1883\n" + k + "\n").find("unknown key"), std::string::npos) << k;
    }
  }
  EXPECT_GT(checked, 80);
}
