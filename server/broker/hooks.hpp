// The broker's extension points: authentication, authorization, and observers of what
// flows through it (the chat service, metrics). The broker calls them on its strand.
#pragma once

#include <functional>
#include <memory>
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
  std::size_t listener = 0;                  // where it last connected
};

struct auth_request {
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::string peer;
  std::size_t listener = 0;                  // which listener the client came in on
  std::optional<std::string> cert_identity;  // verified client certificate CN (TLS)
};

// What one client may do, decided at CONNECT (from the ACL) and kept with its session, so
// per-message checks need no lookup. Null means everything is allowed.
class client_policy {
 public:
  virtual ~client_policy() = default;
  virtual bool may_publish(std::string_view topic) const = 0;
  virtual bool may_subscribe(std::string_view filter) const = 0;
  // Checked for each message delivered, so a wildcard subscription only receives what the
  // ACL allows (Mosquitto's semantics), retained messages included.
  virtual bool may_receive(std::string_view topic) const = 0;
};

// What on_publish decided about a client's PUBLISH.
struct publish_verdict {
  // A failure refuses the message: it is not routed, and a 5.0 client gets the code in its
  // PUBACK/PUBREC (3.1.1 clients cannot be told; the message is dropped).
  mqtt::reason_code reason = mqtt::reason_code::success;
  // false: the hook consumed the message (it published whatever should follow itself), so
  // it is not routed, and its acknowledgement is `reason` rather than "No matching subscribers".
  bool route = true;
};

struct auth_result {
  mqtt::reason_code reason = mqtt::reason_code::success;
  // The identity to use from now on (e.g. from a client certificate); unset keeps the
  // CONNECT's username.
  std::optional<std::string> username;
  std::shared_ptr<const client_policy> policy;
};

class hooks {
 public:
  virtual ~hooks() = default;

  // Calls `done` exactly once, from any thread (it may be slow: password hashing).
  virtual void authenticate(const auth_request& req, std::function<void(auth_result)> done) {
    (void)req;
    done({});
  }

  // Before routing a client's PUBLISH (after the ACL check). It may rewrite the message,
  // refuse it, or consume it. Messages it publishes itself through broker::publish() are
  // part of the same event: they are durable before the client's PUBACK/PUBREC goes out.
  virtual publish_verdict on_publish(const session_info&, message&) { return {}; }
  virtual void on_client_connected(const session_info&) {}
  virtual void on_client_disconnected(const session_info&) {}
};

}  // namespace natter::broker
