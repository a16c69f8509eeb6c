#include "client/url.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "client/errors.hpp"

namespace natter::client {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_value(s[i + 1]);
    const int lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v == 0 || v > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(v);
}

}  // namespace

std::uint16_t default_port(transport_kind t) noexcept {
  switch (t) {
    case transport_kind::tcp:
      return 1883;
    case transport_kind::tls:
      return 8883;
    case transport_kind::ws:
      return 80;
    case transport_kind::wss:
      return 443;
  }
  return 1883;
}

std::string_view scheme_name(transport_kind t) noexcept {
  switch (t) {
    case transport_kind::tcp:
      return "mqtt";
    case transport_kind::tls:
      return "mqtts";
    case transport_kind::ws:
      return "ws";
    case transport_kind::wss:
      return "wss";
  }
  return "mqtt";
}

boost::system::result<server_url, std::error_code> parse_url(std::string_view url) {
  server_url out;
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return make_error_code(errc::invalid_url);
  const std::string_view scheme = url.substr(0, sep);
  static constexpr std::array<transport_kind, 4> kinds{transport_kind::tcp, transport_kind::tls,
                                                       transport_kind::ws, transport_kind::wss};
  const auto kind = std::find_if(kinds.begin(), kinds.end(),
                                 [&](transport_kind k) { return iequals(scheme, scheme_name(k)); });
  if (kind == kinds.end()) {
    // "tcp://" and "ssl://" are what paho users type; accept them as aliases.
    if (iequals(scheme, "tcp")) {
      out.transport = transport_kind::tcp;
    } else if (iequals(scheme, "ssl") || iequals(scheme, "tls")) {
      out.transport = transport_kind::tls;
    } else {
      return make_error_code(errc::unsupported_scheme);
    }
  } else {
    out.transport = *kind;
  }

  std::string_view rest = url.substr(sep + 3);
  const auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) out.path = std::string(rest.substr(slash));

  // The last '@' ends the user info, so an unencoded '@' in a password still works.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    if (!user) return make_error_code(errc::invalid_url);
    out.username = std::move(*user);
    if (colon != std::string_view::npos) {
      auto pass = percent_decode(userinfo.substr(colon + 1));
      if (!pass) return make_error_code(errc::invalid_url);
      out.password = std::move(*pass);
    }
  }

  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return make_error_code(errc::invalid_url);
    out.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return make_error_code(errc::invalid_url);
      port = after.substr(1);
      if (port.empty()) return make_error_code(errc::invalid_url);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return make_error_code(errc::invalid_url);
    }
  }
  if (out.host.empty()) return make_error_code(errc::invalid_url);
  if (!port.empty()) {
    auto p = parse_port(port);
    if (!p) return make_error_code(errc::invalid_url);
    out.port = *p;
    out.port_given = true;
  } else {
    out.port = default_port(out.transport);
  }
  return out;
}

}  // namespace natter::client
