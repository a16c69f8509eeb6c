// natter-server's broker hooks: authentication and ACLs from the authenticator, and, when
// `chat_enabled`, the chat service on top (its topic rules narrow every client's policy,
// and it sees every PUBLISH and disconnection).
#pragma once

#include "authenticator.hpp"
#include "broker/hooks.hpp"
#include "chat/chat_service.hpp"

namespace natter::app {

class app_hooks final : public broker::hooks {
 public:
  explicit app_hooks(authenticator& auth) : auth_(auth) {}

  // Before the broker starts; null: no chat service.
  void set_chat(chat::chat_service* chat) { chat_ = chat; }

  void authenticate(const broker::auth_request& req,
                    std::function<void(broker::auth_result)> done) override;
  broker::publish_verdict on_publish(const broker::session_info& who,
                                     broker::message& m) override;
  void on_client_disconnected(const broker::session_info& who) override;

  // A client's rules after a reload (broker::refresh_policies).
  std::shared_ptr<const broker::client_policy> policy_for(const broker::session_info& who) const;

 private:
  authenticator& auth_;
  chat::chat_service* chat_ = nullptr;
};

}  // namespace natter::app
