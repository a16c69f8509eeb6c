// Fuzz target: the mosquitto.conf-dialect parser (server/config). Any text either loads or
// fails with config_error ("FILE:LINE: message", the line within the text); any other
// exception, a crash or a sanitizer report is a bug. What loads is resolved: every listener
// has somewhere to listen.
//
// include_dir lines are followed like in natter-server: they read *.conf files of real
// directories of this machine (harmless, but such inputs may not reproduce elsewhere).
#include "config/config.hpp"

#include <cstdint>
#include <string>
#include <string_view>

#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto cfg = natter::config::parse_config(text, "fuzz.conf");
    NATTER_FUZZ_CHECK(!cfg.listeners.empty());
    for (const auto& l : cfg.listeners) {
      NATTER_FUZZ_CHECK(l.unix_socket_path || !l.bind_addresses.empty());
      NATTER_FUZZ_CHECK(l.max_qos <= 2);
      NATTER_FUZZ_CHECK(l.max_connections >= -1);
    }
    if (cfg.max_packet_size) NATTER_FUZZ_CHECK(*cfg.max_packet_size >= 20);
    NATTER_FUZZ_CHECK(cfg.connect_timeout.count() >= 1);
  } catch (const natter::config::config_error& e) {
    const std::string what = e.what();
    NATTER_FUZZ_CHECK(!e.message().empty());
    // Errors in the text itself name it and a line that exists in it.
    if (e.file() == "fuzz.conf") {
      NATTER_FUZZ_CHECK(what.starts_with("fuzz.conf"));
      std::size_t lines = 1;
      for (const char c : text) lines += c == '\n';
      NATTER_FUZZ_CHECK(e.line() <= lines);
    }
  }
  return 0;
}
