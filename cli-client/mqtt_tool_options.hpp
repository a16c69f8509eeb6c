// Command-line options of natter-pub and natter-sub: those of mosquitto_pub and
// mosquitto_sub 2.0, parsed the way they parse them, with their error messages, so that
// scripts written for the mosquitto tools run unchanged.
//
// Parsing is pure (no I/O): the tools print what it returns. Like mosquitto, options
// apply in order (a later -p replaces the port from an earlier -L), -D implies -V mqttv5,
// and the checks that need the whole command line run after it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/options.hpp"
#include "mqtt/packet.hpp"

namespace natter::cli {

enum class tool { pub, sub };

// natter-pub's message source: -m, -f, -s, -l, -n.
enum class pub_mode { none, message, file, stdin_file, stdin_line, null };

struct tool_options {
  tool kind = tool::pub;

  // ---- connection
  std::string host;  // empty: localhost
  int port = -1;     // -1: by transport (1883, 8883 with TLS options, 80/443 for ws/wss)
  client::transport_kind transport = client::transport_kind::tcp;
  std::string ws_path = "/mqtt";
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<std::string> id;
  std::optional<std::string> id_prefix;
  bool clean_session = true;
  int keepalive = 60;
  mqtt::version version = mqtt::version::v311;
  bool asked_v31 = false;  // -V mqttv31: natter speaks 3.1.1 instead (see tool_common.cpp)
  std::int64_t session_expiry = -1;  // -x; -1: not given
  int max_inflight = 20;             // -M
  bool debug = false;
  bool quiet = false;

  // ---- will
  std::optional<std::string> will_topic;
  std::optional<std::string> will_payload;
  int will_qos = 0;
  bool will_retain = false;

  // ---- TLS
  std::string cafile;
  std::string capath;
  std::string certfile;
  std::string keyfile;
  bool insecure = false;
  bool tls_use_os_certs = false;

  // ---- messages
  int qos = 0;
  bool retain = false;  // pub -r

  // natter-pub
  std::optional<std::string> topic;
  pub_mode mode = pub_mode::none;
  std::string message;  // -m
  std::string file;     // -f
  int repeat_count = 1;
  double repeat_delay = 0;  // seconds

  // natter-sub
  std::vector<std::string> topics;
  std::vector<std::string> filter_outs;   // -T
  std::vector<std::string> unsub_topics;  // -U
  int msg_count = 0;                      // -C
  int timeout = 0;                        // -W, seconds
  bool no_retain = false;                 // -R
  bool retain_as_published = false;
  bool retained_only = false;
  bool remove_retained = false;
  bool eol = true;  // -N clears
  bool verbose = false;
  bool exit_after_sub = false;        // -E
  std::optional<std::string> format;  // -F

  // ---- MQTT v5 properties (-D COMMAND NAME VALUE)
  mqtt::properties connect_props;
  mqtt::properties publish_props;
  mqtt::properties subscribe_props;
  mqtt::properties unsubscribe_props;
  mqtt::properties disconnect_props;
  mqtt::properties will_props;
};

struct parse_result {
  enum class outcome { run, help, version, error };
  outcome what = outcome::run;
  tool_options opts;
  // For outcome::error: the message lines ("Error: ..."), newline-terminated. The tool
  // prints them to stderr, then "Use 'natter-pub --help' to see usage." unless
  // `usage` asks for the full usage text instead.
  std::string error;
  bool usage = false;
  bool trailer = true;
};

// args: argv[1..]. Includes the whole-command-line checks (client id with -c, topics...).
parse_result parse_args(tool t, std::span<const std::string> args);

// The -F format check, with mosquitto's messages; nullopt when valid.
std::optional<std::string> check_format(std::string_view format);

std::string_view tool_name(tool t) noexcept;

// The client options the parsed command line describes. pid: for default client ids.
client::options make_client_options(const tool_options& o, long pid);

}  // namespace natter::cli
