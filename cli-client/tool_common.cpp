#include "tool_common.hpp"

#include <unistd.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/system/error_code.hpp>
#include <cstdio>

#include "client/errors.hpp"
#include "mqtt/error.hpp"

#ifndef NATTER_VERSION
#define NATTER_VERSION "0.0.0"
#endif

namespace natter::cli {

namespace {

constexpr std::string_view pub_usage =
    R"(natter-pub is a simple mqtt client that will publish a message on a single topic and exit.
natter-pub version )" NATTER_VERSION R"(, options compatible with mosquitto_pub.

Usage: natter-pub {[-h host] [-p port] [-u username] [-P password] -t topic | -L URL}
                  {-f file | -l | -n | -m message | -s}
                  [-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time] [-x session-expiry]
                  [-i id] [-I id_prefix]
                  [-d] [--quiet]
                  [-M max_inflight]
                  [-u username [-P password]]
                  [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                  [{--cafile file | --capath dir} [--cert file] [--key file] [--insecure]]
                  [--tls-use-os-certs]
                  [-D command identifier value]
       natter-pub --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
 -d : enable debug messages.
 -D : Define MQTT v5 properties: -D COMMAND IDENTIFIER VALUE, e.g.
      -D publish user-property key value, -D publish message-expiry-interval 60,
      -D connect session-expiry-interval 3600. Implies -V mqttv5.
 -f : send the contents of a file as the message.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to natter-pub- appended with the process id.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
      ws(s)://[username[:password]@]host[:port]/topic  (WebSocket, request path /mqtt)
 -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -M : the maximum inflight messages for QoS 1/2. Defaults to 20.
 -n : send a null (zero length) message.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 -u : provide a username
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 --help : display this message.
 --quiet : don't print error messages.
 --repeat : if publish mode is -f, -m, or -s, then repeat the publish N times.
 --repeat-delay : if using --repeat, wait time seconds between publishes. Defaults to 0.
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
 --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
 --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
 --tls-use-os-certs : Load and trust OS provided CA certificates.
)";

constexpr std::string_view sub_usage =
    R"(natter-sub is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
natter-sub version )" NATTER_VERSION R"(, options compatible with mosquitto_sub.

Usage: natter-sub {[-h host] [-p port] [-u username] [-P password] -t topic | -L URL [-t topic]}
                  [-c] [-k keepalive] [-q qos] [-x session-expiry-interval]
                  [-C msg_count] [-E] [-R] [--retained-only] [--remove-retained] [-T filter_out] [-U topic ...]
                  [-F format]
                  [-W timeout_secs]
                  [-i id] [-I id_prefix]
                  [-d] [-N] [--quiet] [-v]
                  [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                  [{--cafile file | --capath dir} [--cert file] [--key file] [--insecure]]
                  [--tls-use-os-certs]
                  [-D command identifier value]
       natter-sub --help

 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
 -C : disconnect and exit after receiving the 'msg_count' messages.
 -d : enable debug messages.
 -D : Define MQTT v5 properties: -D COMMAND IDENTIFIER VALUE, e.g.
      -D subscribe subscription-identifier 7, -D connect user-property key value.
      Implies -V mqttv5.
 -E : Exit once all subscriptions have been acknowledged by the broker.
 -F : output format: %t topic, %p payload, %x/%X payload in hex, %q QoS, %r retained,
      %l payload length, %m message id, %I ISO-8601 time, %U Unix time, %j/%J JSON,
      %P user properties, %C %D %E %F %R %S %A other v5 properties, %% a literal %;
      @X strftime(%X); \n \t \\ \0 \e escapes. See `man mosquitto_sub`.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to natter-sub- appended with the process id.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
      ws(s)://[username[:password]@]host[:port]/topic  (WebSocket, request path /mqtt)
 -N : do not add an end of line character when printing the payload.
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
 -u : provide a username
 -U : unsubscribe from a topic. May be repeated.
 -v : print published messages verbosely.
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -W : Specifies a timeout in seconds how long to process incoming MQTT messages.
 -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 --help : display this message.
 --quiet : don't print error messages.
 --retain-as-published : v5: keep the retain flag of messages as they were published.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --remove-retained : send a message to the server to clear any received retained messages
                     Use -T to filter out messages you do not want to be cleared.
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
 --cafile : path to a file containing trusted CA certificates to enable encrypted
            certificate based communication.
 --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Using this option means that you cannot be sure that the
              remote host is the server you wish to connect to and so is insecure.
              Do not use this option in a production environment.
 --tls-use-os-certs : Load and trust OS provided CA certificates.
)";

}  // namespace

int handle_parse(const parse_result& r) {
  const tool t = r.opts.kind;
  const std::string_view usage = t == tool::pub ? pub_usage : sub_usage;
  switch (r.what) {
    case parse_result::outcome::run:
      return -1;
    case parse_result::outcome::help:
      std::fwrite(usage.data(), 1, usage.size(), stdout);
      return 0;
    case parse_result::outcome::version:
      std::printf("%s version %s\n", std::string(tool_name(t)).c_str(), NATTER_VERSION);
      return 0;
    case parse_result::outcome::error:
      std::fputs(r.error.c_str(), stderr);
      if (r.usage) {
        std::fflush(stderr);
        std::fwrite(usage.data(), 1, usage.size(), stdout);
      } else if (r.trailer) {
        std::fprintf(stderr, "\nUse '%s --help' to see usage.\n",
                     std::string(tool_name(t)).c_str());
      }
      return 1;
  }
  return 1;
}

std::string_view connack_string(std::uint8_t rc) noexcept {
  switch (rc) {
    case 0:
      return "Connection Accepted.";
    case 1:
      return "Connection Refused: unacceptable protocol version.";
    case 2:
      return "Connection Refused: identifier rejected.";
    case 3:
      return "Connection Refused: broker unavailable.";
    case 4:
      return "Connection Refused: bad user name or password.";
    case 5:
      return "Connection Refused: not authorised.";
    default:
      return "Connection Refused: unknown reason.";
  }
}

std::string_view reason_string(std::uint8_t rc) noexcept {
  // libmosquitto's spelling, which differs from the spec's only for 0xA1.
  if (rc == 0xA1) return "Subscription identifiers not supported";
  return mqtt::to_string(static_cast<mqtt::reason_code>(rc));
}

std::string connack_error(mqtt::version v, std::uint8_t rc) {
  if (v == mqtt::version::v5) {
    if (rc == static_cast<std::uint8_t>(mqtt::reason_code::unsupported_protocol_version)) {
      return "Connection error: " + std::string(reason_string(rc)) +
             ". Try connecting to an MQTT v5 broker, or use MQTT v3.x mode.\n";
    }
    return "Connection error: " + std::string(reason_string(rc)) + "\n";
  }
  return "Connection error: " + std::string(connack_string(rc)) + "\n";
}

connect_failure connect_error(tool t, std::error_code ec) {
  const boost::system::error_code bec(ec);
  if (bec == boost::asio::error::host_not_found ||
      bec == boost::asio::error::host_not_found_try_again || bec == boost::asio::error::no_data ||
      bec == boost::asio::error::no_recovery || bec == boost::asio::error::service_not_found)
    return {"Unable to connect (Lookup error.).\n", 1};
  if (bec.category() == boost::asio::error::get_ssl_category() ||
      bec.category() == boost::asio::ssl::error::get_stream_category()) {
    // mosquitto_pub meets a bad certificate in its network loop (MOSQ_ERR_TLS, 8),
    // mosquitto_sub while connecting.
    if (t == tool::pub) return {"Error: A TLS error occurred.\n", 8};
    return {"Unable to connect (A TLS error occurred.).\n", 1};
  }
  return {"Error: " + ec.message() + "\n", 1};
}

std::string check_tls_files(const tool_options& o) {
  for (const std::string* f : {&o.cafile, &o.capath, &o.certfile, &o.keyfile}) {
    if (!f->empty() && ::access(f->c_str(), R_OK) != 0)
      return "Error: Problem setting TLS options: File not found.\n";
  }
  return {};
}

void err_print(const tool_options& o, std::string_view text) {
  if (o.quiet) return;
  std::fflush(stdout);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

void trace_packet(std::string_view client_id, bool outgoing, const mqtt::packet& p) {
  const std::string id(client_id);
  const char* dir = outgoing ? "sending" : "received";
  auto line = [&](const char* fmt, auto... args) {
    std::printf("Client %s ", id.c_str());
    std::printf(fmt, args...);
    std::printf("\n");
    std::fflush(stdout);  // debug output as it happens, also on a pipe
  };
  std::visit(
      [&](const auto& pkt) {
        using T = std::decay_t<decltype(pkt)>;
        if constexpr (std::is_same_v<T, mqtt::connect>) {
          line("%s CONNECT", dir);
        } else if constexpr (std::is_same_v<T, mqtt::connack>) {
          line("%s CONNACK (%d)", dir, static_cast<int>(pkt.reason));
        } else if constexpr (std::is_same_v<T, mqtt::publish>) {
          line("%s PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%ld bytes))", dir, pkt.dup ? 1 : 0,
               static_cast<int>(pkt.qos), pkt.retain ? 1 : 0, static_cast<int>(pkt.packet_id),
               pkt.topic.c_str(), static_cast<long>(pkt.payload.size()));
        } else if constexpr (std::is_same_v<T, mqtt::puback> || std::is_same_v<T, mqtt::pubcomp>) {
          const char* name = std::is_same_v<T, mqtt::puback> ? "PUBACK" : "PUBCOMP";
          if (outgoing) {
            if constexpr (std::is_same_v<T, mqtt::puback>) {
              line("sending PUBACK (m%d, rc%d)", static_cast<int>(pkt.packet_id),
                   static_cast<int>(pkt.reason));
            } else {
              line("sending PUBCOMP (m%d)", static_cast<int>(pkt.packet_id));
            }
          } else {
            line("received %s (Mid: %d, RC:%d)", name, static_cast<int>(pkt.packet_id),
                 static_cast<int>(pkt.reason));
          }
        } else if constexpr (std::is_same_v<T, mqtt::pubrec>) {
          if (outgoing) {
            line("sending PUBREC (m%d, rc%d)", static_cast<int>(pkt.packet_id),
                 static_cast<int>(pkt.reason));
          } else {
            line("received PUBREC (Mid: %d)", static_cast<int>(pkt.packet_id));
          }
        } else if constexpr (std::is_same_v<T, mqtt::pubrel>) {
          if (outgoing) {
            line("sending PUBREL (m%d)", static_cast<int>(pkt.packet_id));
          } else {
            line("received PUBREL (Mid: %d)", static_cast<int>(pkt.packet_id));
          }
        } else if constexpr (std::is_same_v<T, mqtt::subscribe>) {
          for (const auto& s : pkt.subscriptions) {
            const int opts = (s.no_local ? 0x04 : 0) | (s.retain_as_published ? 0x08 : 0) |
                             (s.retain_handling << 4);
            line("sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x%02x)",
                 static_cast<int>(pkt.packet_id), s.filter.c_str(), static_cast<int>(s.max_qos),
                 opts);
          }
        } else if constexpr (std::is_same_v<T, mqtt::suback>) {
          line("received SUBACK");
        } else if constexpr (std::is_same_v<T, mqtt::unsubscribe>) {
          for (const auto& f : pkt.filters) {
            line("sending UNSUBSCRIBE (Mid: %d, Topic: %s)", static_cast<int>(pkt.packet_id),
                 f.c_str());
          }
        } else if constexpr (std::is_same_v<T, mqtt::unsuback>) {
          line("received UNSUBACK");
        } else if constexpr (std::is_same_v<T, mqtt::pingreq>) {
          line("%s PINGREQ", dir);
        } else if constexpr (std::is_same_v<T, mqtt::pingresp>) {
          line("%s PINGRESP", dir);
        } else if constexpr (std::is_same_v<T, mqtt::disconnect>) {
          if (outgoing) {
            line("sending DISCONNECT");
          } else {
            line("received DISCONNECT (%d)", static_cast<int>(pkt.reason));
          }
        } else if constexpr (std::is_same_v<T, mqtt::auth>) {
          line("%s AUTH", dir);
        }
      },
      p);
}

}  // namespace natter::cli
