#include "server.hpp"

#include <spdlog/spdlog.h>

#include <csignal>
#include <stdexcept>

#include "authenticator.hpp"
#include "metrics.hpp"
#include "transport/tls_context.hpp"

namespace natter::app {
namespace asio = boost::asio;

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
  o.max_subscriptions_per_client = cfg.max_subscriptions_per_client;
  o.message_rate_limit = cfg.message_rate_limit;
  o.allow_zero_length_clientid = cfg.security.allow_zero_length_clientid;
  o.auto_id_prefix = cfg.security.auto_id_prefix;
  if (cfg.persistent_client_expiration)
    o.persistent_client_expiration = *cfg.persistent_client_expiration;
  if (!cfg.listeners.empty()) o.max_topic_alias = cfg.listeners.front().max_topic_alias;
  return o;
}

server::server(asio::io_context& ioc, config::server_config cfg) : ioc_(ioc), cfg_(std::move(cfg)) {
  auth_ = std::make_unique<authenticator>(cfg_);
  hooks_ = std::make_unique<app_hooks>(*auth_);
  broker_ = std::make_unique<broker::broker_service>(ioc.get_executor(), broker_options_from(cfg_),
                                                     *hooks_);
  if (cfg_.persistence) {
    const auto path = config::persistence_path(cfg_);
    store::sqlite_store_options so;
    so.on_error = [](const std::string& what) {
      // Nothing more can be acknowledged safely; a restart recovers the last commit.
      spdlog::critical("store: {}; shutting down", what);
      std::raise(SIGTERM);
    };
    const auto policy =
        cfg_.persistence_sync == config::sync_mode::always  ? store::sync_policy::always
        : cfg_.persistence_sync == config::sync_mode::batch ? store::sync_policy::batch
                                                            : store::sync_policy::none;
    store_ = std::make_unique<store::sqlite_store>(
        path, policy, [svc = broker_.get()](std::function<void()> fn) { svc->post(std::move(fn)); },
        so);
    auto snap = store_->load(store::wall_clock::now());
    spdlog::info("persistence: {} (persistence_sync {})", path.string(),
                 config::to_string(cfg_.persistence_sync));
    broker_->attach_store(*store_, std::move(snap));
  }
  if (cfg_.chat_enabled) start_chat();
  broker_->start();

  for (std::size_t i = 0; i < cfg_.listeners.size(); ++i) {
    const auto& l = cfg_.listeners[i];
    if (l.unix_socket_path)
      throw std::runtime_error(l.defined_at + ": unix socket listeners are not supported");
    std::shared_ptr<asio::ssl::context> tls;
    if (l.tls) tls = transport::make_tls_context(*l.tls, l.defined_at);
    transport::listener_options opts;
    opts.websockets = l.protocol == config::listener_protocol::websockets;
    opts.http_dir = l.http_dir;
#ifdef NATTER_DEFAULT_HTTP_DIR
    if (!opts.http_dir) opts.http_dir = std::filesystem::path(NATTER_DEFAULT_HTTP_DIR);
#endif
    opts.max_connections = l.max_connections;
    if (cfg_.max_packet_size) opts.limits.max_packet_size = *cfg_.max_packet_size;
    opts.limits.connect_timeout = cfg_.connect_timeout;
    opts.name = l.defined_at;
    opts.index = i;
    if (opts.websockets)
      opts.metrics = [this](std::function<void(std::string)> done) { metrics(std::move(done)); };
    for (const auto& addr : l.bind_addresses) {
      boost::system::error_code ec;
      auto ip = asio::ip::make_address(addr, ec);
      if (ec) throw std::runtime_error(l.defined_at + ": bad bind address " + addr);
      try {
        auto bl = std::make_shared<transport::listener>(ioc_, asio::ip::tcp::endpoint{ip, l.port},
                                                        *broker_, opts, tls);
        bl->start();
        spdlog::info("listening on {} port {} ({}{})", addr, bl->local_endpoint().port(),
                     opts.websockets ? "websockets" : "mqtt", tls ? ", TLS" : "");
        listeners_.push_back({i, std::move(bl)});
      } catch (const boost::system::system_error& e) {
        throw std::runtime_error(l.defined_at + ": cannot listen on " + addr + " port " +
                                 std::to_string(l.port) + ": " + e.code().message());
      }
    }
  }
  if (cfg_.sys_interval.count() > 0) {
    sys_ = std::make_unique<sys_topics>(ioc_, *broker_, cfg_.sys_interval,
                                        std::string("natter version ") + NATTER_VERSION);
    sys_->start();
  }
}

server::~server() = default;

void server::metrics(std::function<void(std::string)> done) {
  broker_->run([this, done = std::move(done)](broker::broker& b) {
    metrics_snapshot s;
    s.version = NATTER_VERSION;
    s.uptime = std::chrono::steady_clock::now() - started_;
    s.stats = b.stats();
    s.gauges = b.gauges();
    if (store_) s.store = store_->stats();
    s.auth_failures = auth_->login_failures();
    done(render_metrics(s));
  });
}

void server::start_chat() {
  auto defer = [svc = broker_.get()](std::function<void()> fn) { svc->post(std::move(fn)); };
  store::chat_store* history = store_.get();
  if (!history) {
    memory_chat_ = std::make_unique<chat::memory_chat_store>(defer);
    history = memory_chat_.get();
  }
  const auto snap = history->load_chat(10000);
  chat_ = std::make_unique<chat::chat_service>(
      *history, snap, [svc = broker_.get()](broker::message_ptr m) { svc->core().publish(m); });
  hooks_->set_chat(chat_.get());
  broker_->run([chat = chat_.get(), users = auth_->known_users()](broker::broker& b) {
    std::vector<broker::message_ptr> retained;
    b.for_each_retained("presence/+", [&](const broker::message_ptr& m) { retained.push_back(m); });
    chat->start(retained, users);
  });
  spdlog::info("chat service on ({} known users, history {})", auth_->known_users().size(),
               store_ ? "in the store" : "in memory only");
}

void server::stop() {
  if (sys_) sys_->stop();
  auth_->shutdown();  // no password check may finish after the broker is gone
  for (auto& b : listeners_) b.l->stop();
  broker_->stop();
}

void server::reload() {
  auto revoked = auth_->reload();
  broker_->run([hooks = hooks_.get(), chat = chat_.get(), users = auth_->known_users(),
                revoked = std::move(revoked)](broker::broker& b) {
    if (!revoked.empty()) b.disconnect_users(revoked);
    b.refresh_policies(
        [hooks](const broker::session_info& who) { return hooks->policy_for(who); });
    if (chat) chat->add_known_users(users);
  });
  for (auto& b : listeners_) {
    const auto& l = cfg_.listeners[b.config_index];
    if (!l.tls) continue;
    try {
      b.l->set_tls_context(transport::make_tls_context(*l.tls, l.defined_at));
      spdlog::info("{}: reloaded TLS certificate and key", l.defined_at);
    } catch (const std::exception& e) {
      spdlog::error("{} (keeping the previous certificate)", e.what());
    }
  }
}

}  // namespace natter::app
