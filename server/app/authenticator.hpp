// Authentication and authorization for natter-server: password files and ACL files in
// Mosquitto's formats (server/auth), applied per listener or globally as
// per_listener_settings says, reloaded on SIGHUP.
//
// Password hashing is slow on purpose (PBKDF2, ~0.2 s at 210,000 iterations), so it runs on
// a small pool of its own, never on a network thread or the broker strand; the number of
// pending checks is bounded (clients beyond it get Server busy). An address with many failed
// logins is refused without hashing for a while, which costs others nothing. Successful
// logins are remembered as an HMAC under a per-process key, so a reconnecting client does not
// pay for PBKDF2 again; the memory is dropped on reload.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/acl.hpp"
#include "auth/password_file.hpp"
#include "broker/hooks.hpp"
#include "config/config.hpp"

namespace natter::app {

// Why a login was refused (authenticator::login_failures(), for /metrics).
enum class auth_failure : std::uint8_t {
  bad_credentials,   // unknown user or wrong password
  anonymous,         // no username, allow_anonymous false
  no_password_file,  // a username, but no password_file to check it against
  rate_limited,      // the address failed too often in the last minute
  busy,              // too many password checks pending
  no_certificate,    // use_identity_as_username without a verified client certificate
};
inline constexpr std::size_t auth_failure_count = 6;

class authenticator final : public broker::hooks {
 public:
  // Loads every password and ACL file; throws std::runtime_error naming the file and line.
  explicit authenticator(const config::server_config& cfg);
  ~authenticator() override;

  // Re-reads the files. One that fails to load keeps its previous contents (logged).
  // Returns the users whose password entry changed or disappeared: their connections must
  // go, as Mosquitto does on reload.
  std::vector<std::string> reload();
  // Drops queued password checks; one already running still completes.
  void shutdown();

  void authenticate(const broker::auth_request& req,
                    std::function<void(broker::auth_result)> done) override;

  // Every user in the password files now (the chat service's directory).
  std::vector<std::string> known_users() const;

  // Refused logins since start, indexed by auth_failure. Any thread.
  std::array<std::uint64_t, auth_failure_count> login_failures() const;

  // The rules for a client, for refresh after a reload.
  std::shared_ptr<const broker::client_policy> policy_for(const broker::session_info& who) const;

 private:
  struct files {
    std::shared_ptr<const auth::password_db> passwords;  // null: no password_file
    std::shared_ptr<const auth::acl_db> acl;             // never null
  };
  struct scope {  // the security settings of one listener (or all, when shared)
    config::security_config cfg;
    files current;
  };

  files load_files(const config::security_config& sec, bool at_startup) const;
  const scope& scope_of(std::size_t listener) const;
  std::shared_ptr<const broker::client_policy> make_policy(const files& f,
                                                           std::optional<std::string_view> user,
                                                           std::string_view client_id) const;
  bool blocked(const std::string& address);
  void record_failure(const std::string& address, const std::string& user);
  std::array<unsigned char, 32> remember_key(std::string_view user,
                                             std::string_view password) const;

  const config::server_config& cfg_;
  std::vector<scope> scopes_;  // one per listener, or one for all
  mutable std::mutex mutex_;   // guards scopes_[*].current and the maps below

  void count(auth_failure f) { failure_counts_[static_cast<std::size_t>(f)].fetch_add(1); }
  std::array<std::atomic<std::uint64_t>, auth_failure_count> failure_counts_{};

  boost::asio::thread_pool pool_{2};
  std::atomic<int> pending_{0};

  struct failures {
    int count = 0;
    std::chrono::steady_clock::time_point window_start;
  };
  std::unordered_map<std::string, failures> failures_;  // by peer address (no port)
  std::array<unsigned char, 32> process_key_{};
  std::unordered_map<std::string, std::array<unsigned char, 32>> remembered_;  // user -> HMAC
};

}  // namespace natter::app
