#include "static_files.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/string_body.hpp>
#include <system_error>

namespace natter::transport {
namespace http = boost::beast::http;
namespace fs = std::filesystem;

namespace {

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
    const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

http::message_generator text_response(const http_request& req, http::status status,
                                      std::string body) {
  http::response<http::string_body> res{status, req.version()};
  res.set(http::field::server, "natter");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  if (status == http::status::method_not_allowed) res.set(http::field::allow, "GET, HEAD");
  res.body() = req.method() == http::verb::head ? std::string{} : std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.content_length(body.size());
  return res;
}

}  // namespace

bool is_metrics_request(const http_request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  return (req.method() == http::verb::get || req.method() == http::verb::head) &&
         (target == "/metrics" || target.starts_with("/metrics?"));
}

http::message_generator metrics_response(const http_request& req, std::string body) {
  http::response<http::string_body> res{http::status::ok, req.version()};
  res.set(http::field::server, "natter");
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  const auto size = body.size();
  if (req.method() != http::verb::head) res.body() = std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.content_length(size);
  return res;
}

std::optional<fs::path> resolve_target(const fs::path& root, std::string_view target) {
  if (target.empty() || target.front() != '/') return std::nullopt;
  target = target.substr(0, target.find_first_of("?#"));
  auto decoded = percent_decode(target);
  if (!decoded) return std::nullopt;
  fs::path rel;
  std::string_view rest = *decoded;
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const auto seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg.empty()) continue;
    // No way up, no hidden files, nothing a filesystem could read as a separator.
    if (seg.front() == '.' ||
        seg.find_first_of(std::string_view("\\\0:", 3)) != std::string_view::npos)
      return std::nullopt;
    rel /= std::string(seg);
  }
  fs::path full = root / rel;
  std::error_code ec;
  if (fs::is_directory(full, ec)) full /= "index.html";
  return full;
}

// Moved here from listener.cpp (pure, and fuzzed with the rest of this file: fuzz/).
std::string choose_subprotocol(std::string_view offered) {
  std::string fallback;
  while (!offered.empty()) {
    const auto comma = offered.find(',');
    auto item = offered.substr(0, comma);
    offered = comma == std::string_view::npos ? std::string_view{} : offered.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "mqtt") return "mqtt";
    if (item == "mqttv3.1" && fallback.empty()) fallback = "mqttv3.1";
  }
  return fallback;
}

std::string_view content_type_for(const fs::path& file) {
  const auto ext = file.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json" || ext == ".map") return "application/json";
  if (ext == ".webmanifest") return "application/manifest+json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".jpg" || ext == ".jpeg") return "image/jpeg";
  if (ext == ".gif") return "image/gif";
  if (ext == ".webp") return "image/webp";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".woff2") return "font/woff2";
  if (ext == ".woff") return "font/woff";
  if (ext == ".wasm") return "application/wasm";
  if (ext == ".txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

http::message_generator serve_http(const http_request& req, const std::optional<fs::path>& root) {
  if (req.method() != http::verb::get && req.method() != http::verb::head)
    return text_response(req, http::status::method_not_allowed, "method not allowed\n");
  const std::string_view target(req.target().data(), req.target().size());
  if (target == "/healthz" || target.starts_with("/healthz?"))
    return text_response(req, http::status::ok, "ok\n");
  if (!root)
    return text_response(req, http::status::not_found, "no web client is installed (http_dir)\n");
  auto file = resolve_target(*root, target);
  if (!file) return text_response(req, http::status::bad_request, "bad path\n");

  // Vite names assets by content hash: they never change, so browsers may keep them.
  // index.html must be revalidated so a new release is picked up.
  const bool hashed = target.starts_with("/assets/");
  bool gzip = false;
  const auto accept = req[http::field::accept_encoding];
  fs::path chosen = *file;
  std::error_code fec;
  if (std::string_view(accept.data(), accept.size()).find("gzip") != std::string_view::npos) {
    fs::path gz = *file;
    gz += ".gz";
    if (fs::is_regular_file(gz, fec)) {
      chosen = gz;
      gzip = true;
    }
  }
  if (!fs::is_regular_file(chosen, fec))
    return text_response(req, http::status::not_found, "not found\n");

  http::file_body::value_type body;
  boost::beast::error_code ec;
  body.open(chosen.c_str(), boost::beast::file_mode::scan, ec);
  if (ec) return text_response(req, http::status::not_found, "not found\n");
  const auto size = body.size();

  auto set_headers = [&](auto& res) {
    res.set(http::field::server, "natter");
    res.set(http::field::content_type, content_type_for(*file));
    res.set(http::field::cache_control,
            hashed ? "public, max-age=31536000, immutable" : "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.set(http::field::vary, "Accept-Encoding");
    if (gzip) res.set(http::field::content_encoding, "gzip");
    res.content_length(size);
    res.keep_alive(req.keep_alive());
  };
  if (req.method() == http::verb::head) {
    http::response<http::empty_body> res{http::status::ok, req.version()};
    set_headers(res);
    return res;
  }
  http::response<http::file_body> res{std::piecewise_construct, std::make_tuple(std::move(body)),
                                      std::make_tuple(http::status::ok, req.version())};
  set_headers(res);
  return res;
}

}  // namespace natter::transport
