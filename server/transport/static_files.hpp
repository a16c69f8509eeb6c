// The HTTP side of a WebSocket listener: the browser client's files, /healthz, /metrics, and
// the rules that keep a request inside http_dir. Pure request -> response; no sockets.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/message_generator.hpp>
#include <boost/beast/http/string_body.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace natter::transport {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;

// The file under `root` that `target` names, or nullopt when the target is not a clean
// absolute path (percent-encoded "..", NUL, backslash, a dot-segment or hidden segment).
// "/" and directories map to index.html.
std::optional<std::filesystem::path> resolve_target(const std::filesystem::path& root,
                                                    std::string_view target);

std::string_view content_type_for(const std::filesystem::path& file);

// The WebSocket subprotocol to answer with: "mqtt" (MQTT 3.1.1 and 5.0 [MQTT-6.0.0-3]) or
// "mqttv3.1" (old clients), the first the client offers; empty when it offers neither.
std::string choose_subprotocol(std::string_view offered);

// GET/HEAD of a file or /healthz; everything else gets the HTTP error it deserves.
boost::beast::http::message_generator serve_http(const http_request& req,
                                                 const std::optional<std::filesystem::path>& root);

// Produces the text of GET /metrics (Prometheus text exposition format) asynchronously;
// `done` may be called on any thread. Empty: /metrics is not served.
using metrics_source = std::function<void(std::function<void(std::string)> done)>;

// A GET or HEAD of /metrics.
bool is_metrics_request(const http_request& req);
// 200 with `body` as Prometheus text (HEAD: the headers only).
boost::beast::http::message_generator metrics_response(const http_request& req, std::string body);

}  // namespace natter::transport
