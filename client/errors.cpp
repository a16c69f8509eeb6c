#include "client/errors.hpp"

#include <string>

namespace natter::client {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "natter.client"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::not_connected:
        return "The client is not connected";
      case errc::disconnected:
        return "The client was disconnected";
      case errc::connection_lost:
        return "The connection was lost";
      case errc::connect_timeout:
        return "Timed out waiting for CONNACK";
      case errc::keep_alive_timeout:
        return "Keep alive timeout: no PINGRESP from the server";
      case errc::queue_full:
        return "Too many messages waiting for the connection";
      case errc::packet_ids_exhausted:
        return "No free packet identifier";
      case errc::invalid_url:
        return "Invalid URL";
      case errc::unsupported_scheme:
        return "Unsupported URL scheme";
      case errc::invalid_topic:
        return "Invalid topic";
    }
    return "Unknown client error";
  }
};

}  // namespace

const std::error_category& client_category() noexcept {
  static const category c;
  return c;
}

}  // namespace natter::client
