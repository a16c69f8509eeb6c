// The HTTP side of a WebSocket listener: the browser client's files, /healthz, and the
// rules that keep a request inside http_dir. Pure request -> response; no sockets.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/message_generator.hpp>
#include <boost/beast/http/string_body.hpp>
#include <filesystem>
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

// GET/HEAD of a file or /healthz; everything else gets the HTTP error it deserves.
boost::beast::http::message_generator serve_http(const http_request& req,
                                                 const std::optional<std::filesystem::path>& root);

}  // namespace natter::transport
