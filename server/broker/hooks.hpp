// The broker's extension points: authentication, authorization, and observers of what
// flows through it (the chat service, metrics). The broker calls them on its strand.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "message.hpp"
#include "mqtt/error.hpp"

namespace natter::broker {

// Who a session belongs to, as authorization sees it.
struct session_info {
  std::string_view client_id;
  std::optional<std::string_view> username;  // unset for anonymous clients
};

struct auth_request {
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::string peer;
  std::size_t listener = 0;                  // which listener the client came in on
  std::optional<std::string> cert_identity;  // verified client certificate CN (TLS)
};

struct auth_result {
  mqtt::reason_code reason = mqtt::reason_code::success;
  // The identity to use from now on (e.g. from a client certificate); unset keeps the
  // CONNECT's username.
  std::optional<std::string> username;
};

class hooks {
 public:
  virtual ~hooks() = default;

  // Calls `done` exactly once, from any thread (it may be slow: password hashing).
  virtual void authenticate(const auth_request& req, std::function<void(auth_result)> done) {
    (void)req;
    done({});
  }
  virtual bool may_publish(const session_info&, std::string_view topic) {
    (void)topic;
    return true;
  }
  virtual bool may_subscribe(const session_info&, std::string_view filter) {
    (void)filter;
    return true;
  }
  // Checked for each message delivered, so a wildcard subscription only receives what the
  // ACL allows [mosquitto semantics].
  virtual bool may_receive(const session_info&, std::string_view topic) {
    (void)topic;
    return true;
  }

  // Before routing a client's PUBLISH: return a failure reason code to refuse it.
  virtual mqtt::reason_code on_publish(const session_info&, message&) {
    return mqtt::reason_code::success;
  }
  virtual void on_client_connected(const session_info&) {}
  virtual void on_client_disconnected(const session_info&) {}
};

}  // namespace natter::broker
