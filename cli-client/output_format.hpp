// How natter-sub prints a message: payload only, -v "topic payload", or an -F format,
// exactly as mosquitto_sub prints them (see `man mosquitto_sub`, OUTPUT FORMAT).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "mqtt/packet.hpp"

namespace natter::cli {

struct print_options {
  bool verbose = false;                 // -v
  bool eol = true;                      // false with -N
  const std::string* format = nullptr;  // -F (checked with check_format)
};

// Appends the text for one message to `out`. `now` is the time the message is printed
// (%I, %U, %j, @ sequences), rendered in the local time zone. A %J whose payload is not
// JSON appends mosquitto's error line to `err` (for stderr) and prints nothing in its place.
void render_message(std::string& out, const mqtt::publish& m, const print_options& p,
                    std::chrono::system_clock::time_point now, std::string& err);

// JSON string escaping as cJSON does it (mosquitto's %j).
void json_escape(std::string& out, std::string_view s);
// True if `s` is one complete JSON value (%J embeds such payloads as they are).
bool is_json(std::string_view s);

}  // namespace natter::cli
