#include "authenticator.hpp"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <stdexcept>

namespace natter::app {
namespace {

using namespace std::chrono_literals;
using mqtt::reason_code;

constexpr int max_pending_checks = 256;      // queued password hashes, all clients
constexpr int max_failures_per_window = 10;  // per address
constexpr auto failure_window = 60s;
constexpr std::size_t max_remembered = 100'000;  // successful logins kept

class acl_policy final : public broker::client_policy {
 public:
  explicit acl_policy(auth::client_acl acl) : acl_(std::move(acl)) {}
  bool may_publish(std::string_view topic) const override { return acl_.can_write(topic); }
  bool may_subscribe(std::string_view filter) const override { return acl_.can_subscribe(filter); }
  bool may_receive(std::string_view topic) const override { return acl_.can_read(topic); }

 private:
  auth::client_acl acl_;
};

// "1.2.3.4:5678" -> "1.2.3.4"; "[::1]" forms are not produced by the transport.
std::string address_of(const std::string& peer) {
  const auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

}  // namespace

authenticator::authenticator(const config::server_config& cfg) : cfg_(cfg) {
  if (RAND_bytes(process_key_.data(), static_cast<int>(process_key_.size())) != 1)
    throw std::runtime_error("cannot get random bytes for the login cache key");
  if (cfg.per_listener_settings) {
    for (const auto& l : cfg.listeners)
      scopes_.push_back({l.security, load_files(l.security, true)});
  } else {
    scopes_.push_back({cfg.security, load_files(cfg.security, true)});
  }
}

authenticator::~authenticator() {
  pool_.join();
}

authenticator::files authenticator::load_files(const config::security_config& sec,
                                               bool at_startup) const {
  files f;
  if (sec.password_file) {
    auto r = auth::password_db::load(sec.password_file->string());
    if (!r) {
      if (at_startup) throw std::runtime_error(r.error().message);
      spdlog::error("{}", r.error().message);
    } else {
      f.passwords = std::make_shared<const auth::password_db>(std::move(*r));
      spdlog::info("{}: {} users", sec.password_file->string(), f.passwords->size());
    }
  }
  if (sec.acl_file) {
    auto r = auth::acl_db::load(sec.acl_file->string());
    if (!r) {
      if (at_startup) throw std::runtime_error(r.error().message);
      spdlog::error("{}", r.error().message);
    } else {
      for (const auto& w : r->warnings()) spdlog::warn("{}", w);
      f.acl = std::make_shared<const auth::acl_db>(std::move(*r));
    }
  }
  if (!f.acl) f.acl = std::make_shared<const auth::acl_db>();
  return f;
}

void authenticator::shutdown() {
  pool_.stop();
}

std::vector<std::string> authenticator::reload() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> revoked;
  for (auto& s : scopes_) {
    auto fresh = load_files(s.cfg, false);
    // A file that failed to load keeps what we had.
    if (fresh.passwords && s.current.passwords) {
      for (const auto& user : s.current.passwords->usernames())
        if (!fresh.passwords->same_entry(*s.current.passwords, user)) revoked.push_back(user);
    }
    if (fresh.passwords || !s.cfg.password_file) s.current.passwords = std::move(fresh.passwords);
    if (!s.cfg.acl_file || fresh.acl->restricted()) s.current.acl = std::move(fresh.acl);
  }
  remembered_.clear();
  return revoked;
}

std::array<std::uint64_t, auth_failure_count> authenticator::login_failures() const {
  std::array<std::uint64_t, auth_failure_count> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = failure_counts_[i].load();
  return out;
}

const authenticator::scope& authenticator::scope_of(std::size_t listener) const {
  return cfg_.per_listener_settings ? scopes_.at(listener) : scopes_.front();
}

std::shared_ptr<const broker::client_policy> authenticator::make_policy(
    const files& f, std::optional<std::string_view> user, std::string_view client_id) const {
  return std::make_shared<acl_policy>(f.acl->for_client(user, client_id));
}

std::vector<std::string> authenticator::known_users() const {
  std::lock_guard lk(mutex_);
  std::vector<std::string> users;
  for (const auto& s : scopes_)
    if (s.current.passwords)
      for (auto& u : s.current.passwords->usernames()) users.push_back(std::move(u));
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  return users;
}

std::shared_ptr<const broker::client_policy> authenticator::policy_for(
    const broker::session_info& who) const {
  std::lock_guard lock(mutex_);
  return make_policy(scope_of(who.listener).current, who.username, who.client_id);
}

bool authenticator::blocked(const std::string& address) {
  auto it = failures_.find(address);
  if (it == failures_.end()) return false;
  if (std::chrono::steady_clock::now() - it->second.window_start > failure_window) {
    failures_.erase(it);
    return false;
  }
  return it->second.count >= max_failures_per_window;
}

void authenticator::record_failure(const std::string& address, const std::string& user) {
  const auto now = std::chrono::steady_clock::now();
  auto& f = failures_[address];
  if (f.count == 0 || now - f.window_start > failure_window) f = {0, now};
  ++f.count;
  spdlog::warn("login failed for user '{}' from {}", user, address);
  if (f.count == max_failures_per_window)
    spdlog::warn("{} failed logins from {} within {} s: refusing it for the rest of the minute",
                 f.count, address, failure_window.count());
  if (failures_.size() > 100'000) failures_.clear();  // bounded, whatever an attacker does
}

std::array<unsigned char, 32> authenticator::remember_key(std::string_view user,
                                                          std::string_view password) const {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  std::string msg;
  msg.reserve(user.size() + password.size() + 1);
  msg.append(user).push_back('\0');
  msg.append(password);
  HMAC(EVP_sha256(), process_key_.data(), static_cast<int>(process_key_.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(), &len);
  OPENSSL_cleanse(msg.data(), msg.size());
  return out;
}

void authenticator::authenticate(const broker::auth_request& req,
                                 std::function<void(broker::auth_result)> done) {
  const auto& listener = cfg_.listeners.at(req.listener);
  files f;
  config::security_config sec;
  {
    std::lock_guard lock(mutex_);
    const auto& s = scope_of(req.listener);
    f = s.current;
    sec = s.cfg;
  }
  broker::auth_result r;

  if (listener.tls && listener.tls->use_identity_as_username) {
    // The verified client certificate is the identity; no password is checked.
    if (!req.cert_identity) {
      count(auth_failure::no_certificate);
      r.reason = reason_code::not_authorized;
      return done(std::move(r));
    }
    r.username = req.cert_identity;
    r.policy = make_policy(f, *req.cert_identity, req.client_id);
    return done(std::move(r));
  }

  if (!req.username) {
    if (!sec.allow_anonymous) {
      // The broker logs the refusal (client id, peer, reason): one line per event.
      spdlog::debug("refused anonymous client {} from {}", req.client_id, req.peer);
      count(auth_failure::anonymous);
      r.reason = reason_code::not_authorized;
    } else {
      r.policy = make_policy(f, std::nullopt, req.client_id);
    }
    return done(std::move(r));
  }

  if (!f.passwords) {
    // Mosquitto: without a password file a username is taken at its word when anonymous
    // access is allowed, and nobody gets in when it is not.
    if (!sec.allow_anonymous) {
      spdlog::info("refused client {} from {}: no password_file to check '{}' against",
                   req.client_id, req.peer, *req.username);
      count(auth_failure::no_password_file);
      r.reason = reason_code::not_authorized;
    } else {
      r.policy = make_policy(f, *req.username, req.client_id);
    }
    return done(std::move(r));
  }

  const std::string address = address_of(req.peer);
  const std::string password = req.password.value_or("");
  const auto key = remember_key(*req.username, password);
  {
    std::lock_guard lock(mutex_);
    if (blocked(address)) {
      count(auth_failure::rate_limited);
      r.reason = reason_code::not_authorized;
      return done(std::move(r));
    }
    auto it = remembered_.find(*req.username);
    if (it != remembered_.end() && CRYPTO_memcmp(it->second.data(), key.data(), key.size()) == 0) {
      r.policy = make_policy(f, *req.username, req.client_id);
      return done(std::move(r));
    }
  }
  if (pending_.fetch_add(1) >= max_pending_checks) {
    --pending_;
    count(auth_failure::busy);
    r.reason = reason_code::server_busy;
    return done(std::move(r));
  }
  boost::asio::post(pool_, [this, f = std::move(f), req, password, key, address,
                            done = std::move(done)]() mutable {
    broker::auth_result res;
    const bool ok = f.passwords->verify(*req.username, password);
    {
      std::lock_guard lock(mutex_);
      if (ok) {
        if (remembered_.size() >= max_remembered) remembered_.clear();
        remembered_[*req.username] = key;
      } else {
        record_failure(address, *req.username);
      }
    }
    if (ok) {
      res.policy = make_policy(f, *req.username, req.client_id);
    } else {
      count(auth_failure::bad_credentials);
      res.reason = reason_code::bad_user_name_or_password;
    }
    --pending_;
    done(std::move(res));
  });
}

}  // namespace natter::app
