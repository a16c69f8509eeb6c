// Fuzz target: the WebSocket listener's side of a connection before and after the upgrade
// (server/transport/http_session.hpp), over Beast's in-memory test stream instead of a socket:
//   1. HTTP/1.1 requests parsed by Beast's request_parser with http_session's limits (header
//      first; a chunked body is answered from the header and the connection closed); each one
//      that is not an upgrade is answered by serve_http() (static files from a fixture
//      http_dir, /healthz) or metrics_response() (/metrics), and the answer must be a
//      well-formed HTTP response; a path that
//      resolve_target() accepts never leaves http_dir (no "..", no hidden segment);
//   2. an upgrade request is accepted as http_session does (choose_subprotocol(), binary
//      frames, read_message_max), and the bytes after it are read as WebSocket frames and
//      their payloads decoded as MQTT, packet by packet as the connection does.
//
// Input: byte 0 chooses how many bytes each read returns (bit 7 clear: 1 + bits 0-6; set: as
// many as there are), the rest is what the client sends. Bytes after the upgrade request are
// the client's WebSocket frames (client frames must be masked, RFC 6455 5.3).
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "mqtt_invariants.hpp"
#include "transport/static_files.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace fs = std::filesystem;
using namespace natter::fuzz;
using test_stream = beast::test::stream;

// An http_dir like the web client's: index.html, hashed assets with .gz twins, a
// subdirectory, hidden files that must never be served.
struct fixture {
  fs::path root;
  fixture() {
    char tmpl[] = "/tmp/natter-fuzz-http-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    root = tmpl;
    auto put = [&](const char* rel, std::string_view body) {
      const fs::path p = root / rel;
      fs::create_directories(p.parent_path());
      std::ofstream(p, std::ios::binary) << body;
    };
    put("index.html", "<!doctype html><title>natter</title>");
    put("assets/app-1a2b3c.js", "console.log('natter')");
    put("assets/app-1a2b3c.js.gz", std::string_view("\x1f\x8b\x08\x00", 4));
    put("sub/index.html", "sub");
    put("sub/data.json", "{}");
    put(".secret", "must not be served");
    put("sub/.hidden", "must not be served");
  }
  ~fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

const fixture& files() {
  static const fixture f;
  return f;
}

// What resolve_target() returns stays inside root: no "..", no hidden or empty segment.
void check_resolved(const fs::path& root, std::string_view target) {
  const auto file = natter::transport::resolve_target(root, target);
  if (!file) return;
  const fs::path rel = file->lexically_relative(root);
  NATTER_FUZZ_CHECK(!rel.empty());
  for (const auto& part : rel) {
    const std::string s = part.string();
    NATTER_FUZZ_CHECK(!s.empty() && s.front() != '.');
    NATTER_FUZZ_CHECK(s.find('\0') == std::string::npos);
  }
  NATTER_FUZZ_CHECK(file->string().starts_with(root.string() + "/"));
}

// The server's output (what `client` received) is one well-formed HTTP response.
http::status parse_response(test_stream& client, bool head_request) {
  const std::string out(client.str());
  client.clear();
  http::response_parser<http::string_body> p;
  p.eager(true);
  p.body_limit(boost::none);
  p.skip(head_request);
  beast::error_code ec;
  p.put(boost::asio::buffer(out), ec);
  NATTER_FUZZ_CHECK(!ec);
  if (!p.is_done()) p.put_eof(ec);  // every answer has a Content-Length: this must fail
  NATTER_FUZZ_CHECK(!ec);
  NATTER_FUZZ_CHECK(p.is_done());
  NATTER_FUZZ_CHECK(p.get().body().find("must not be served") == std::string::npos);
  return p.get().result();
}

void check_subprotocol(std::string_view offered, const std::string& chosen) {
  NATTER_FUZZ_CHECK(chosen.empty() || chosen == "mqtt" || chosen == "mqttv3.1");
  bool has_mqtt = false, has_v31 = false;
  std::string_view rest = offered;
  while (true) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    has_mqtt |= item == "mqtt";
    has_v31 |= item == "mqttv3.1";
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  NATTER_FUZZ_CHECK(chosen == (has_mqtt ? "mqtt" : has_v31 ? "mqttv3.1" : ""));
}

// After the upgrade: http_session::upgrade, then connection::on_read over the WebSocket.
void websocket_phase(boost::asio::io_context& ioc, const natter::transport::http_request& req,
                     std::string_view frames, std::size_t read_size) {
  test_stream server(ioc), client(ioc);
  server.connect(client);
  server.read_size(read_size);
  server.append(frames);
  server.close_remote();

  // connection_limits' default (transport/connection.hpp, not included: it needs the broker).
  const std::uint32_t max_packet_size = natter::mqtt::max_remaining_length + 5;
  websocket::stream<test_stream&> ws(server);
  const auto offered = req[http::field::sec_websocket_protocol];
  const std::string proto =
      natter::transport::choose_subprotocol(std::string_view(offered.data(), offered.size()));
  check_subprotocol(std::string_view(offered.data(), offered.size()), proto);
  ws.set_option(websocket::stream_base::decorator([proto](websocket::response_type& res) {
    res.set(http::field::server, "natter");
    if (!proto.empty()) res.set(http::field::sec_websocket_protocol, proto);
  }));
  ws.binary(true);
  ws.auto_fragment(false);
  ws.read_message_max(std::uint64_t{max_packet_size} + 64 * 1024);
  beast::error_code ec;
  ws.accept(req, ec);
  {
    const std::string out(client.str());
    client.clear();
    http::response_parser<http::empty_body> p;
    p.skip(true);
    beast::error_code pec;
    p.put(boost::asio::buffer(out), pec);
    NATTER_FUZZ_CHECK(!pec && p.is_header_done());
    const auto& res = p.get();
    if (!ec) {
      NATTER_FUZZ_CHECK(res.result() == http::status::switching_protocols);
      const auto sp = res[http::field::sec_websocket_protocol];
      NATTER_FUZZ_CHECK(std::string_view(sp.data(), sp.size()) == proto);
    } else {
      NATTER_FUZZ_CHECK(res.result() != http::status::switching_protocols);
      return;
    }
  }

  // connection::on_read: bytes as read_some delivers them, one growing buffer.
  std::vector<std::uint8_t> buf;
  natter::mqtt::version v = natter::mqtt::version::v5;
  for (int reads = 0; reads < 10000; ++reads) {
    std::uint8_t chunk[4096];
    const std::size_t n = ws.read_some(boost::asio::buffer(chunk), ec);
    if (ec) return;
    if (ws.got_text()) return;  // [MQTT-6.0.0-1]: the connection closes
    buf.insert(buf.end(), chunk, chunk + n);
    std::size_t start = 0;
    for (;;) {
      auto r = natter::mqtt::decode(bytes_view(buf.data() + start, buf.size() - start),
                                    {v, max_packet_size});
      if (r.has_error()) {
        if (r.error() == natter::mqtt::codec_errc::need_more_bytes) break;
        return;  // the broker answers and closes
      }
      start += r->size;
      check_round_trip(r->pkt, v);
      v = encode_version(r->pkt, v);
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(start));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t read_size = (data[0] & 0x80) ? std::size_t(-1) : 1 + (data[0] & 0x7F);
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const fs::path& root = files().root;

  boost::asio::io_context ioc;
  test_stream server(ioc), client(ioc);
  server.connect(client);
  server.read_size(read_size);
  server.append(input);
  server.close_remote();

  beast::flat_buffer buffer;  // http_session keeps one across keep-alive requests
  for (int requests = 0; requests < 16; ++requests) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    beast::error_code ec;
    // As http_session: the header first; a chunked body is refused, not parsed.
    http::read_header(server, buffer, parser, ec);
    if (ec) break;
    if (parser.chunked()) {
      auto req = parser.release();
      req.keep_alive(false);
      beast::write(server, natter::transport::serve_http(req, root), ec);
      NATTER_FUZZ_CHECK(!ec);
      parse_response(client, req.method() == http::verb::head);
      break;
    }
    http::read(server, buffer, parser, ec);
    if (ec) break;
    auto req = parser.release();
    const std::string_view target(req.target().data(), req.target().size());
    check_resolved(root, target);
    if (websocket::is_upgrade(req)) {
      const std::string rest = beast::buffers_to_string(buffer.data());
      websocket_phase(ioc, req, rest, read_size);
      break;
    }
    const bool keep_alive = req.keep_alive();
    const bool head = req.method() == http::verb::head;
    const auto dir = requests % 4 == 3 ? std::nullopt : std::optional<fs::path>(root);
    http::message_generator res =
        natter::transport::is_metrics_request(req)
            ? natter::transport::metrics_response(req, "# TYPE natter_up gauge\nnatter_up 1\n")
            : natter::transport::serve_http(req, dir);
    beast::write(server, std::move(res), ec);
    NATTER_FUZZ_CHECK(!ec);
    const http::status status = parse_response(client, head);
    const unsigned code = static_cast<unsigned>(status);
    NATTER_FUZZ_CHECK(code == 200 || code == 400 || code == 404 || code == 405);
    if (!keep_alive) break;
  }
  return 0;
}
