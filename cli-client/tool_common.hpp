// What natter-pub and natter-sub share besides option parsing: usage text, mosquitto's
// error texts for refused and failed connections, and the -d packet trace.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "mqtt/packet.hpp"
#include "mqtt_tool_options.hpp"

namespace natter::cli {

// Handles --help, --version and parse errors (printing as mosquitto does). Returns the
// exit status, or -1 when the tool should run.
int handle_parse(const parse_result& r);

// mosquitto_connack_string(): the 3.1.1 CONNACK return code texts.
std::string_view connack_string(std::uint8_t rc) noexcept;
// mosquitto_reason_string(): the 5.0 reason code names ("Unknown reason" otherwise).
std::string_view reason_string(std::uint8_t rc) noexcept;
// "Connection error: ...\n" for a refusing CONNACK, by protocol version.
std::string connack_error(mqtt::version v, std::uint8_t rc);
// What mosquitto_pub/_sub print, and exit with, when they cannot connect at all (DNS,
// TCP, TLS).
struct connect_failure {
  std::string text;
  int status = 1;
};
connect_failure connect_error(tool t, std::error_code ec);

// --cafile, --capath, --cert and --key must name readable files before anything else
// happens (mosquitto_tls_set checks them the same way). The error line, or empty.
std::string check_tls_files(const tool_options& o);

// Prints to stderr unless --quiet.
void err_print(const tool_options& o, std::string_view text);

// One -d line per packet, in libmosquitto's words ("Client ID sending PUBLISH (d0, q1, ...").
void trace_packet(std::string_view client_id, bool outgoing, const mqtt::packet& p);

}  // namespace natter::cli
