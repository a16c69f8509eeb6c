#include "server.hpp"

#include <spdlog/spdlog.h>
#include <stdexcept>

namespace natter::app {
namespace asio = boost::asio;

namespace {

// Until password files land (issue 5), the only credential check is allow_anonymous: with
// it false every client is refused, as Mosquitto does with no password_file.
class basic_hooks final : public broker::hooks {
 public:
  explicit basic_hooks(bool allow_anonymous) : allow_anonymous_(allow_anonymous) {}
  void authenticate(const broker::auth_request& req, std::function<void(broker::auth_result)> done) override {
    broker::auth_result r;
    if (!allow_anonymous_) {
      spdlog::warn("refused {} from {}: anonymous access is not allowed", req.client_id, req.peer);
      r.reason = req.username ? mqtt::reason_code::bad_user_name_or_password : mqtt::reason_code::not_authorized;
    }
    done(std::move(r));
  }

 private:
  bool allow_anonymous_;
};

}  // namespace

broker::broker_options broker_options_from(const config::server_config& cfg) {
  broker::broker_options o;
  o.max_inflight_messages = cfg.max_inflight_messages;
  o.max_queued_messages = cfg.max_queued_messages;
  o.max_queued_bytes = cfg.max_queued_bytes;
  o.max_keepalive = cfg.max_keepalive;
  o.max_packet_size = cfg.max_packet_size.value_or(0);
  o.message_size_limit = cfg.message_size_limit;
  o.retain_available = cfg.retain_available;
  o.queue_qos0_messages = cfg.queue_qos0_messages;
  o.upgrade_outgoing_qos = cfg.upgrade_outgoing_qos;
  o.allow_zero_length_clientid = cfg.security.allow_zero_length_clientid;
  o.auto_id_prefix = cfg.security.auto_id_prefix;
  if (cfg.persistent_client_expiration) o.persistent_client_expiration = *cfg.persistent_client_expiration;
  if (!cfg.listeners.empty()) o.max_topic_alias = cfg.listeners.front().max_topic_alias;
  return o;
}

server::server(asio::io_context& ioc, const config::server_config& cfg) : ioc_(ioc) {
  bool anonymous = cfg.security.allow_anonymous;
  if (cfg.per_listener_settings && !cfg.listeners.empty()) anonymous = cfg.listeners.front().security.allow_anonymous;
  hooks_ = std::make_unique<basic_hooks>(anonymous);
  broker_ = std::make_unique<broker::broker_service>(ioc.get_executor(), broker_options_from(cfg), *hooks_);
  broker_->start();

  transport::connection_limits limits;
  if (cfg.max_packet_size) limits.max_packet_size = *cfg.max_packet_size;
  limits.connect_timeout = cfg.connect_timeout;

  for (const auto& l : cfg.listeners) {
    if (l.protocol != config::listener_protocol::mqtt)
      throw std::runtime_error(l.defined_at + ": protocol " + std::string(config::to_string(l.protocol)) +
                               " is not supported yet");
    if (l.unix_socket_path) throw std::runtime_error(l.defined_at + ": unix socket listeners are not supported");
    for (const auto& addr : l.bind_addresses) {
      boost::system::error_code ec;
      auto ip = asio::ip::make_address(addr, ec);
      if (ec) throw std::runtime_error(l.defined_at + ": bad bind address " + addr);
      try {
        auto tl = std::make_shared<transport::tcp_listener>(ioc_, asio::ip::tcp::endpoint{ip, l.port}, *broker_, limits);
        tl->start();
        spdlog::info("listening on {} port {} (mqtt)", addr, tl->local_endpoint().port());
        listeners_.push_back(std::move(tl));
      } catch (const boost::system::system_error& e) {
        throw std::runtime_error(l.defined_at + ": cannot listen on " + addr + " port " + std::to_string(l.port) +
                                 ": " + e.code().message());
      }
    }
  }
}

server::~server() = default;

void server::stop() {
  for (auto& l : listeners_) l->stop();
  broker_->stop();
}

}  // namespace natter::app
