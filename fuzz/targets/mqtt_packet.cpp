// Fuzz target: MQTT packets decoded whole, in one negotiated version (NATTER_FUZZ_MQTT_VERSION
// is 4 for the mqtt_v311 target, 5 for mqtt_v5). The input is the bytes a client or server
// sends; every packet that decodes off its front must satisfy mqtt_invariants.hpp. Errors are
// fine (that is most inputs); crashes, sanitizer reports and broken invariants are not.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "mqtt_invariants.hpp"

#ifndef NATTER_FUZZ_MQTT_VERSION
#error "define NATTER_FUZZ_MQTT_VERSION as 4 or 5"
#endif

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace natter::fuzz;
  constexpr auto v = static_cast<natter::mqtt::version>(NATTER_FUZZ_MQTT_VERSION);
  check_packets(bytes_view(data, size), v);
  check_utf8(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
