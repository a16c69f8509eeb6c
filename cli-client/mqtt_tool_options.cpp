#include "mqtt_tool_options.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <limits>

#include "client/errors.hpp"
#include "client/url.hpp"
#include "mqtt/topic.hpp"

namespace natter::cli {

namespace {

// atoi(): leading blanks, a sign, digits, and 0 when there are none. mosquitto parses
// numbers with it, so "-q x" means QoS 0 there; we keep that.
long long atoi_like(const std::string& s) {
  errno = 0;
  const long long v = std::strtoll(s.c_str(), nullptr, 10);
  return errno == ERANGE
             ? (v < 0 ? std::numeric_limits<int>::min() : std::numeric_limits<int>::max())
             : v;
}

int to_int(const std::string& s) {
  const long long v = atoi_like(s);
  if (v > std::numeric_limits<int>::max()) return std::numeric_limits<int>::max();
  if (v < std::numeric_limits<int>::min()) return std::numeric_limits<int>::min();
  return static_cast<int>(v);
}

// ---------------------------------------------------------------- -D properties

enum class prop_kind { byte, u16, u32, varint, string, binary, pair };
struct prop_info {
  std::string_view name;
  std::uint8_t id;
  prop_kind kind;
};

// MQTT 5.0 section 2.2.2.2, named as mosquitto names them.
constexpr std::array<prop_info, 27> property_table{{
    {"payload-format-indicator", 0x01, prop_kind::byte},
    {"message-expiry-interval", 0x02, prop_kind::u32},
    {"content-type", 0x03, prop_kind::string},
    {"response-topic", 0x08, prop_kind::string},
    {"correlation-data", 0x09, prop_kind::binary},
    {"subscription-identifier", 0x0B, prop_kind::varint},
    {"session-expiry-interval", 0x11, prop_kind::u32},
    {"assigned-client-identifier", 0x12, prop_kind::string},
    {"server-keep-alive", 0x13, prop_kind::u16},
    {"authentication-method", 0x15, prop_kind::string},
    {"authentication-data", 0x16, prop_kind::binary},
    {"request-problem-information", 0x17, prop_kind::byte},
    {"will-delay-interval", 0x18, prop_kind::u32},
    {"request-response-information", 0x19, prop_kind::byte},
    {"response-information", 0x1A, prop_kind::string},
    {"server-reference", 0x1C, prop_kind::string},
    {"reason-string", 0x1F, prop_kind::string},
    {"receive-maximum", 0x21, prop_kind::u16},
    {"topic-alias-maximum", 0x22, prop_kind::u16},
    {"topic-alias", 0x23, prop_kind::u16},
    {"maximum-qos", 0x24, prop_kind::byte},
    {"retain-available", 0x25, prop_kind::byte},
    {"user-property", 0x26, prop_kind::pair},
    {"maximum-packet-size", 0x27, prop_kind::u32},
    {"wildcard-subscription-available", 0x28, prop_kind::byte},
    {"subscription-identifier-available", 0x29, prop_kind::byte},
    {"shared-subscription-available", 0x2A, prop_kind::byte},
}};

enum class command {
  connect,
  publish,
  puback,
  pubrec,
  pubrel,
  pubcomp,
  subscribe,
  unsubscribe,
  disconnect,
  auth,
  will
};
struct command_info {
  std::string_view name;
  command cmd;
  std::string_view packet;  // for "Error in %s properties"
};
constexpr std::array<command_info, 11> command_table{{
    {"connect", command::connect, "CONNECT"},
    {"publish", command::publish, "PUBLISH"},
    {"puback", command::puback, "PUBACK"},
    {"pubrec", command::pubrec, "PUBREC"},
    {"pubrel", command::pubrel, "PUBREL"},
    {"pubcomp", command::pubcomp, "PUBCOMP"},
    {"subscribe", command::subscribe, "SUBSCRIBE"},
    {"unsubscribe", command::unsubscribe, "UNSUBSCRIBE"},
    {"disconnect", command::disconnect, "DISCONNECT"},
    {"auth", command::auth, "AUTH"},
    {"will", command::will, "Will"},
}};

// Which packet a client may put each property in (MQTT 5.0 section 2.2.2.2, Table 2-4,
// client-to-server direction; "will" is the Will Properties of CONNECT, 3.1.3.2).
bool allowed(command c, std::uint8_t id) {
  switch (c) {
    case command::connect:
      return id == 0x11 || id == 0x21 || id == 0x27 || id == 0x22 || id == 0x19 || id == 0x17 ||
             id == 0x26 || id == 0x15 || id == 0x16;
    case command::publish:
      return id == 0x01 || id == 0x02 || id == 0x03 || id == 0x08 || id == 0x09 || id == 0x0B ||
             id == 0x23 || id == 0x26;
    case command::will:
      return id == 0x18 || id == 0x01 || id == 0x02 || id == 0x03 || id == 0x08 || id == 0x09 ||
             id == 0x26;
    case command::puback:
    case command::pubrec:
    case command::pubrel:
    case command::pubcomp:
      return id == 0x1F || id == 0x26;
    case command::subscribe:
      return id == 0x0B || id == 0x26;
    case command::unsubscribe:
      return id == 0x26;
    case command::disconnect:
      return id == 0x11 || id == 0x1F || id == 0x1C || id == 0x26;
    case command::auth:
      return id == 0x15 || id == 0x16 || id == 0x1F || id == 0x26;
  }
  return false;
}

// Stores one property; false when it may appear only once and already does.
bool set_property(mqtt::properties& p, std::uint8_t id, std::uint32_t n, const std::string& s,
                  const std::string& s2, command cmd) {
  auto put = [](auto& field, auto v) {
    if (field) return false;
    field = v;
    return true;
  };
  switch (id) {
    case 0x01:
      return put(p.payload_format_indicator, static_cast<std::uint8_t>(n));
    case 0x02:
      return put(p.message_expiry_interval, n);
    case 0x03:
      return put(p.content_type, s);
    case 0x08:
      return put(p.response_topic, s);
    case 0x09:
      return put(p.correlation_data, s);
    case 0x0B:
      if (cmd == command::subscribe && !p.subscription_identifiers.empty()) return false;
      p.subscription_identifiers.push_back(n);
      return true;
    case 0x11:
      return put(p.session_expiry_interval, n);
    case 0x15:
      return put(p.authentication_method, s);
    case 0x16:
      return put(p.authentication_data, s);
    case 0x17:
      return put(p.request_problem_information, static_cast<std::uint8_t>(n));
    case 0x18:
      return put(p.will_delay_interval, n);
    case 0x19:
      return put(p.request_response_information, static_cast<std::uint8_t>(n));
    case 0x1C:
      return put(p.server_reference, s);
    case 0x1F:
      return put(p.reason_string, s);
    case 0x21:
      return put(p.receive_maximum, static_cast<std::uint16_t>(n));
    case 0x22:
      return put(p.topic_alias_maximum, static_cast<std::uint16_t>(n));
    case 0x23:
      return put(p.topic_alias, static_cast<std::uint16_t>(n));
    case 0x26:
      p.user_properties.emplace_back(s, s2);
      return true;
    case 0x27:
      return put(p.maximum_packet_size, n);
    default:
      return true;
  }
}

struct parser {
  tool t;
  std::span<const std::string> args;
  parse_result r;
  std::size_t i = 0;

  bool is_pub() const { return t == tool::pub; }
  bool is_sub() const { return t == tool::sub; }

  bool fail(std::string msg) {
    r.what = parse_result::outcome::error;
    r.error = std::move(msg);
    return false;
  }
  // The option's argument; mosquitto's "given but no X specified" otherwise.
  const std::string* arg(std::string_view what) {
    if (i + 1 >= args.size()) {
      fail("Error: " + std::string(what) + "\n\n");
      return nullptr;
    }
    return &args[++i];
  }
  bool unknown() { return fail("Error: Unknown option '" + args[i] + "'.\n"); }

  bool add_topic(const std::string& topic, std::string_view from) {
    if (!mqtt::is_valid_utf8(topic))
      return fail("Error: Malformed UTF-8 in " + std::string(from) + " argument.\n\n");
    if (is_pub()) {
      if (!mqtt::is_valid_topic_name(topic))
        return fail("Error: Invalid publish topic '" + topic + "', does it contain '+' or '#'?\n");
      r.opts.topic = topic;
    } else {
      if (!mqtt::is_valid_topic_filter(topic))
        return fail("Error: Invalid subscription topic '" + topic +
                    "', are all '+' and '#' wildcards correct?\n");
      r.opts.topics.push_back(topic);
    }
    return true;
  }

  bool set_mode(pub_mode m) {
    if (r.opts.mode != pub_mode::none)
      return fail("Error: Only one type of message can be sent at once.\n\n");
    r.opts.mode = m;
    return true;
  }

  bool url(const std::string& u) {
    auto parsed = client::parse_url(u);
    if (!parsed) {
      if (parsed.error() == client::errc::unsupported_scheme)
        return fail("Error: unsupported URL scheme.\n\n");
      return fail("Error: Invalid URL for -L argument specified.\n\n");
    }
    auto& o = r.opts;
    o.transport = parsed->transport;
    o.port = parsed->port;
    o.host = parsed->host;
    if (parsed->username) o.username = parsed->username;
    if (parsed->password) o.password = parsed->password;
    // As mosquitto: the path is the topic. Over WebSocket the request path stays /mqtt.
    if (parsed->path.empty() || parsed->path.front() != '/')
      return fail("Error: Invalid URL for -L argument specified - topic missing.\n");
    if (client::uses_tls(o.transport)) o.tls_use_os_certs = true;
    return add_topic(parsed->path.substr(1), "-L topic");
  }

  bool property() {
    // -D COMMAND IDENTIFIER VALUE [VALUE2 for user-property]
    const std::string not_enough =
        "Error: --property argument given but not enough arguments specified.\n\n";
    if (i + 3 >= args.size()) return fail(not_enough);
    const std::string& cmdname = args[i + 1];
    const std::string& propname = args[i + 2];
    const std::string& value = args[i + 3];
    const auto* ci = std::find_if(command_table.begin(), command_table.end(),
                                  [&](const command_info& c) { return c.name == cmdname; });
    if (ci == command_table.end())
      return fail("Error: Invalid command given in --property argument.\n\n");
    const auto* pi = std::find_if(property_table.begin(), property_table.end(),
                                  [&](const prop_info& p) { return p.name == propname; });
    if (pi == property_table.end())
      return fail("Error: Invalid property name given in --property argument.\n\n");
    if (!allowed(ci->cmd, pi->id))
      return fail("Error: " + propname + " property not allowed for " + cmdname +
                  " in --property argument.\n\n");
    // The server assigns subscription identifiers to the messages it sends.
    if (pi->id == 0x0B && ci->cmd == command::publish)
      return fail("Error: " + propname + " property not supported for " + cmdname +
                  " in --property argument.\n\n");
    std::string value2;
    if (pi->kind == prop_kind::pair) {
      if (i + 4 >= args.size()) return fail(not_enough);
      value2 = args[i + 4];
    }
    std::uint32_t n = 0;
    auto range = [&](long long lo, long long hi) {
      const long long v = atoi_like(value);
      if (v < lo || v > hi) {
        fail("Error: Property value (" + std::to_string(v) + ") out of range for property " +
             propname + ".\n\n");
        return false;
      }
      n = static_cast<std::uint32_t>(v);
      return true;
    };
    switch (pi->kind) {
      case prop_kind::byte:
        if (!range(0, 255)) return false;
        break;
      case prop_kind::u16:
        if (!range(0, 65535)) return false;
        break;
      case prop_kind::u32:
        if (!range(0, 4294967295LL)) return false;
        break;
      case prop_kind::varint:
        if (!range(0, 268435455)) return false;
        break;
      case prop_kind::string:
      case prop_kind::binary:
      case prop_kind::pair:
        if (value.size() > 65535 || value2.size() > 65535)
          return fail("Error: Property value too long for property " + propname + ".\n\n");
        break;
    }
    mqtt::properties* target = nullptr;
    auto& o = r.opts;
    switch (ci->cmd) {
      case command::connect:
        target = &o.connect_props;
        break;
      case command::publish:
        target = &o.publish_props;
        break;
      case command::subscribe:
        target = &o.subscribe_props;
        break;
      case command::unsubscribe:
        target = &o.unsubscribe_props;
        break;
      case command::disconnect:
        target = &o.disconnect_props;
        break;
      case command::will:
        target = &o.will_props;
        break;
      default:
        break;  // puback..auth: accepted for compatibility, never sent by these tools
    }
    if (target != nullptr && !set_property(*target, pi->id, n, value, value2, ci->cmd))
      return fail("Error in " + std::string(ci->packet) +
                  " properties: Duplicate property in property list\n");
    i += pi->kind == prop_kind::pair ? 4 : 3;  // the last argument consumed
    o.version = mqtt::version::v5;             // properties exist only in MQTT 5
    return true;
  }

  bool option() {
    const std::string& a = args[i];
    auto& o = r.opts;
    if (a == "--cafile") {
      auto* v = arg("--cafile argument given but no file specified.");
      if (!v) return false;
      o.cafile = *v;
    } else if (a == "--capath") {
      auto* v = arg("--capath argument given but no directory specified.");
      if (!v) return false;
      o.capath = *v;
    } else if (a == "--cert") {
      auto* v = arg("--cert argument given but no file specified.");
      if (!v) return false;
      o.certfile = *v;
    } else if (a == "-C") {
      if (!is_sub()) return unknown();
      auto* v = arg("-C argument given but no count specified.");
      if (!v) return false;
      o.msg_count = to_int(*v);
      if (o.msg_count < 1)
        return fail("Error: Invalid message count \"" + std::to_string(o.msg_count) + "\".\n\n");
    } else if (a == "-c" || a == "--disable-clean-session") {
      o.clean_session = false;
    } else if (a == "-d" || a == "--debug") {
      o.debug = true;
    } else if (a == "-D" || a == "--property") {
      return property();
    } else if (a == "-E") {
      if (!is_sub()) return unknown();
      o.exit_after_sub = true;
    } else if (a == "-f" || a == "--file") {
      if (!is_pub()) return unknown();
      if (o.mode != pub_mode::none) return set_mode(pub_mode::file);
      auto* v = arg("-f argument given but no file specified.");
      if (!v) return false;
      o.mode = pub_mode::file;
      o.file = *v;
    } else if (a == "-F") {
      if (!is_sub()) return unknown();
      auto* v = arg("-F argument given but no format specified.");
      if (!v) return false;
      if (auto err = check_format(*v)) return fail(*err);
      o.format = *v;
    } else if (a == "--help") {
      r.what = parse_result::outcome::help;
      return false;
    } else if (a == "-h" || a == "--host") {
      auto* v = arg("-h argument given but no host specified.");
      if (!v) return false;
      o.host = *v;
    } else if (a == "--insecure") {
      o.insecure = true;
    } else if (a == "-i" || a == "--id") {
      if (o.id_prefix) return fail("Error: -i and -I argument cannot be used together.\n\n");
      auto* v = arg("-i argument given but no id specified.");
      if (!v) return false;
      o.id = *v;
    } else if (a == "-I" || a == "--id-prefix") {
      if (o.id) return fail("Error: -i and -I argument cannot be used together.\n\n");
      auto* v = arg("-I argument given but no id prefix specified.");
      if (!v) return false;
      o.id_prefix = *v;
    } else if (a == "-k" || a == "--keepalive") {
      auto* v = arg("-k argument given but no keepalive specified.");
      if (!v) return false;
      o.keepalive = to_int(*v);
      if (o.keepalive < 5 || o.keepalive > 65535)
        return fail(
            "Error: Invalid keepalive given, it must be between 5 and 65535 inclusive.\n\n");
    } else if (a == "--key") {
      auto* v = arg("--key argument given but no file specified.");
      if (!v) return false;
      o.keyfile = *v;
    } else if (a == "-L" || a == "--url") {
      auto* v = arg("-L argument given but no URL specified.");
      return v != nullptr && url(*v);
    } else if (a == "-l" || a == "--stdin-line") {
      if (!is_pub()) return unknown();
      return set_mode(pub_mode::stdin_line);
    } else if (a == "-m" || a == "--message") {
      if (!is_pub()) return unknown();
      if (o.mode != pub_mode::none) return set_mode(pub_mode::message);
      auto* v = arg("-m argument given but no message specified.");
      if (!v) return false;
      o.mode = pub_mode::message;
      o.message = *v;
    } else if (a == "-M") {
      auto* v = arg("-M argument given but max_inflight not specified.");
      if (!v) return false;
      o.max_inflight = to_int(*v);
      if (o.max_inflight < 1)
        return fail("Error: Maximum inflight messages must be greater than 0.\n\n");
      if (o.max_inflight > 65535) o.max_inflight = 65535;
    } else if (a == "--nodelay") {
      // Always on: natter's client sets TCP_NODELAY on every connection.
    } else if (a == "-n" || a == "--null-message") {
      if (!is_pub()) return unknown();
      return set_mode(pub_mode::null);
    } else if (a == "-N") {
      if (!is_sub()) return unknown();
      o.eol = false;
    } else if (a == "-p" || a == "--port") {
      auto* v = arg("-p argument given but no port specified.");
      if (!v) return false;
      o.port = to_int(*v);
      if (o.port < 1 || o.port > 65535)
        return fail("Error: Invalid port given: " + std::to_string(o.port) + "\n");
    } else if (a == "-P" || a == "--pw") {
      auto* v = arg("-P argument given but no password specified.");
      if (!v) return false;
      o.password = *v;
    } else if (a == "-q" || a == "--qos") {
      auto* v = arg("-q argument given but no QoS specified.");
      if (!v) return false;
      o.qos = to_int(*v);
      if (o.qos < 0 || o.qos > 2)
        return fail("Error: Invalid QoS given: " + std::to_string(o.qos) + "\n");
    } else if (a == "--quiet") {
      o.quiet = true;
    } else if (a == "-r" || a == "--retain") {
      if (!is_pub()) return unknown();
      o.retain = true;
    } else if (a == "-R") {
      if (!is_sub()) return unknown();
      o.no_retain = true;
    } else if (a == "--remove-retained") {
      if (!is_sub()) return unknown();
      o.remove_retained = true;
    } else if (a == "--repeat") {
      if (!is_pub()) return unknown();
      auto* v = arg("--repeat argument given but no count specified.");
      if (!v) return false;
      o.repeat_count = to_int(*v);
      if (o.repeat_count < 1) return fail("Error: --repeat argument must be >0.\n\n");
    } else if (a == "--repeat-delay") {
      if (!is_pub()) return unknown();
      auto* v = arg("--repeat-delay argument given but no time specified.");
      if (!v) return false;
      o.repeat_delay = std::strtod(v->c_str(), nullptr);
      if (o.repeat_delay < 0) return fail("Error: --repeat-delay argument must be >=0.0.\n\n");
    } else if (a == "--retain-as-published") {
      if (!is_sub()) return unknown();
      o.retain_as_published = true;
    } else if (a == "--retained-only") {
      if (!is_sub()) return unknown();
      o.retained_only = true;
    } else if (a == "-s" || a == "--stdin-file") {
      if (!is_pub()) return unknown();
      return set_mode(pub_mode::stdin_file);
    } else if (a == "-t" || a == "--topic") {
      auto* v = arg("-t argument given but no topic specified.");
      return v != nullptr && add_topic(*v, "-t");
    } else if (a == "-T" || a == "--filter-out") {
      if (!is_sub()) return unknown();
      auto* v = arg("-T argument given but no topic filter specified.");
      if (!v) return false;
      if (!mqtt::is_valid_utf8(*v)) return fail("Error: Malformed UTF-8 in -T argument.\n\n");
      if (!mqtt::is_valid_topic_filter(*v))
        return fail("Error: Invalid filter topic '" + *v +
                    "', are all '+' and '#' wildcards correct?\n");
      o.filter_outs.push_back(*v);
    } else if (a == "--tls-use-os-certs") {
      o.tls_use_os_certs = true;
    } else if (a == "-U" || a == "--unsubscribe") {
      if (!is_sub()) return unknown();
      auto* v = arg("-U argument given but no unsubscribe topic specified.");
      if (!v) return false;
      if (!mqtt::is_valid_utf8(*v)) return fail("Error: Malformed UTF-8 in -U argument.\n\n");
      if (!mqtt::is_valid_topic_filter(*v))
        return fail("Error: Invalid unsubscribe topic '" + *v +
                    "', are all '+' and '#' wildcards correct?\n");
      o.unsub_topics.push_back(*v);
    } else if (a == "-u" || a == "--username") {
      auto* v = arg("-u argument given but no username specified.");
      if (!v) return false;
      o.username = *v;
    } else if (a == "-V" || a == "--protocol-version") {
      auto* v = arg("--protocol-version argument given but no version specified.");
      if (!v) return false;
      o.asked_v31 = false;
      if (*v == "mqttv31" || *v == "31") {
        o.version = mqtt::version::v311;
        o.asked_v31 = true;
      } else if (*v == "mqttv311" || *v == "311") {
        o.version = mqtt::version::v311;
      } else if (*v == "mqttv5" || *v == "5") {
        o.version = mqtt::version::v5;
      } else {
        return fail("Error: Invalid protocol version argument given.\n\n");
      }
    } else if (a == "-v" || a == "--verbose") {
      if (!is_sub()) return unknown();
      o.verbose = true;
    } else if (a == "--version") {
      r.what = parse_result::outcome::version;
      return false;
    } else if (a == "-W") {
      if (!is_sub()) return unknown();
      auto* v = arg("-W argument given but no timeout specified.");
      if (!v) return false;
      o.timeout = to_int(*v);
      if (o.timeout < 1)
        return fail("Error: Invalid timeout \"" + std::to_string(o.timeout) + "\".\n\n");
    } else if (a == "--will-payload") {
      auto* v = arg("--will-payload argument given but no will payload specified.");
      if (!v) return false;
      o.will_payload = *v;
    } else if (a == "--will-qos") {
      auto* v = arg("--will-qos argument given but no will QoS specified.");
      if (!v) return false;
      o.will_qos = to_int(*v);
      if (o.will_qos < 0 || o.will_qos > 2)
        return fail("Error: Invalid will QoS " + std::to_string(o.will_qos) + ".\n\n");
    } else if (a == "--will-retain") {
      o.will_retain = true;
    } else if (a == "--will-topic") {
      auto* v = arg("--will-topic argument given but no will topic specified.");
      if (!v) return false;
      if (!mqtt::is_valid_utf8(*v))
        return fail("Error: Malformed UTF-8 in --will-topic argument.\n\n");
      if (!mqtt::is_valid_topic_name(*v))
        return fail("Error: Invalid will topic '" + *v + "', does it contain '+' or '#'?\n");
      o.will_topic = *v;
    } else if (a == "-x") {
      auto* v = arg("-x argument given but no session expiry interval specified.");
      if (!v) return false;
      if (*v == "\u221e") {
        o.session_expiry = 4294967295LL;
      } else {
        char* end = nullptr;
        errno = 0;
        const long long x = std::strtoll(v->c_str(), &end, 0);
        if (end == v->c_str() || *end != '\0')
          return fail("Error: session-expiry-interval not a number.\n\n");
        if (errno == ERANGE || x > 4294967295LL || x < -1)
          return fail("Error: session-expiry-interval out of range.\n\n");
        o.session_expiry = x == -1 ? 4294967295LL : x;
      }
    } else {
      return unknown();
    }
    return true;
  }

  // The checks mosquitto makes once the whole command line is read (client_config_load).
  bool finish() {
    auto& o = r.opts;
    if (o.will_payload && !o.will_topic)
      return fail("Error: Will payload given, but no will topic given.\n");
    if (o.will_retain && !o.will_topic)
      return fail("Error: Will retain given, but no will topic given.\n");
    if (o.certfile.empty() != o.keyfile.empty())
      return fail("Error: Both certfile and keyfile must be provided if one of them is set.\n");
    if (o.version == mqtt::version::v5) {
      if (!o.clean_session && o.session_expiry == -1) o.session_expiry = 4294967295LL;
      if (o.session_expiry == 4294967295LL && (o.id_prefix || !o.id))
        return fail(
            "Error: You must provide a client id if you are using an infinite session expiry "
            "interval.\n");
    } else if (!o.clean_session && (o.id_prefix || !o.id)) {
      return fail("Error: You must provide a client id if you are using the -c option.\n");
    }
    if (o.password && !o.username) {
      r.trailer = false;  // mosquitto finds this later, when it sets up the client
      return fail("Error: Problem setting username and/or password.\n");
    }
    if (is_sub()) {
      if (o.topics.empty() && o.unsub_topics.empty())
        return fail("Error: You must specify a topic to subscribe to.\n");
      if (o.no_retain && o.retained_only)
        return fail("Error: Combining '-R' and '--retained-only' makes no sense.\n");
    } else if (!o.topic || o.mode == pub_mode::none) {
      r.usage = true;
      return fail("Error: Both topic and message must be supplied.\n");
    }
    return true;
  }
};

}  // namespace

std::string_view tool_name(tool t) noexcept {
  return t == tool::pub ? "natter-pub" : "natter-sub";
}

parse_result parse_args(tool t, std::span<const std::string> args) {
  parser p{t, args, {}};
  p.r.opts.kind = t;
  // Each option leaves `i` on the last argument it consumed.
  for (; p.i < args.size(); ++p.i) {
    if (!p.option()) return std::move(p.r);
  }
  p.finish();
  return std::move(p.r);
}

std::optional<std::string> check_format(std::string_view str) {
  const std::size_t len = str.size();
  for (std::size_t i = 0; i < len; ++i) {
    if (str[i] == '%') {
      if (i == len - 1) return "Error: Incomplete format specifier.\n";
      if (str[i + 1] == '0' || str[i + 1] == '-') {  // flags
        ++i;
        if (i == len - 1) return "Error: Incomplete format specifier.\n";
      }
      while (str[i + 1] >= '0' && str[i + 1] <= '9') {  // field width
        ++i;
        if (i == len - 1) return "Error: Incomplete format specifier.\n";
      }
      if (str[i + 1] == '.') {  // precision
        ++i;
        if (i == len - 1) return "Error: Incomplete format specifier.\n";
        while (str[i + 1] >= '0' && str[i + 1] <= '9') {
          ++i;
          if (i == len - 1) return "Error: Incomplete format specifier.\n";
        }
      }
      static constexpr std::string_view known = "%ACDEFIlmPpqRSrtjJUxX";
      if (known.find(str[i + 1]) == std::string_view::npos)
        return "Error: Invalid format specifier '" + std::string(1, str[i + 1]) + "'.\n";
      ++i;
    } else if (str[i] == '@') {
      if (i == len - 1) return "Error: Incomplete format specifier.\n";
      ++i;
    } else if (str[i] == '\\') {
      if (i == len - 1) return "Error: Incomplete escape specifier.\n";
      static constexpr std::string_view escapes = "\\0aenrtv";
      if (escapes.find(str[i + 1]) == std::string_view::npos)
        return "Error: Invalid escape specifier '" + std::string(1, str[i + 1]) + "'.\n";
      ++i;
    }
  }
  return std::nullopt;
}

client::options make_client_options(const tool_options& o, long pid) {
  client::options c;
  c.transport = o.transport;
  // TLS options turn TLS on whatever the URL said, as with mosquitto.
  const bool tls = !o.cafile.empty() || !o.capath.empty() || o.tls_use_os_certs;
  if (tls && c.transport == client::transport_kind::tcp) c.transport = client::transport_kind::tls;
  if (tls && c.transport == client::transport_kind::ws) c.transport = client::transport_kind::wss;
  c.host = o.host.empty() ? "localhost" : o.host;
  c.port = o.port > 0 ? static_cast<std::uint16_t>(o.port) : client::default_port(c.transport);
  c.ws_path = o.ws_path;
  c.tls.ca_file = o.cafile;
  c.tls.ca_path = o.capath;
  c.tls.cert_file = o.certfile;
  c.tls.key_file = o.keyfile;
  c.tls.verify_hostname = !o.insecure;

  auto& k = c.connect;
  k.protocol_version = o.version;
  if (o.id) {
    k.client_id = *o.id;
  } else if (o.id_prefix) {
    k.client_id = *o.id_prefix + std::to_string(pid);
  } else {
    k.client_id = std::string(tool_name(o.kind)) + "-" + std::to_string(pid);
  }
  k.clean_start = o.clean_session;
  k.keep_alive = static_cast<std::uint16_t>(o.keepalive);
  k.username = o.username;
  k.password = o.password;
  if (o.will_topic) {
    mqtt::will w;
    w.topic = *o.will_topic;
    w.payload = o.will_payload.value_or("");
    w.qos = static_cast<mqtt::qos>(o.will_qos);
    w.retain = o.will_retain;
    w.props = o.will_props;
    k.will = std::move(w);
  }
  if (o.version == mqtt::version::v5) {
    k.props = o.connect_props;
    if (o.session_expiry > 0)
      k.props.session_expiry_interval = static_cast<std::uint32_t>(o.session_expiry);
    // As mosquitto_sub: with -C below the default window, ask for no more than that many
    // in flight, so that the broker does not send messages we will not acknowledge.
    if (o.kind == tool::sub && o.msg_count > 0 && o.msg_count < 20 && !k.props.receive_maximum)
      k.props.receive_maximum = static_cast<std::uint16_t>(o.msg_count);
  }
  c.max_inflight = static_cast<std::uint16_t>(o.max_inflight);
  c.connect_timeout = std::chrono::seconds(60);
  if (o.kind == tool::sub) {
    // mosquitto_sub keeps reconnecting after a lost connection, but gives up when the
    // first attempt fails.
    c.reconnect.enabled = true;
    c.reconnect.retry_initial = false;
    c.reconnect.initial_delay = std::chrono::seconds(1);
    c.reconnect.max_delay = std::chrono::seconds(30);
  }
  return c;
}

}  // namespace natter::cli
