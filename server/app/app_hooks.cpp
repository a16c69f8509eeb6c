#include "app_hooks.hpp"

namespace natter::app {

void app_hooks::authenticate(const broker::auth_request& req,
                             std::function<void(broker::auth_result)> done) {
  if (!chat_) return auth_.authenticate(req, std::move(done));
  // The callback may run on the authenticator's pool: restrict() is a pure function.
  auth_.authenticate(req, [done = std::move(done), username = req.username,
                           client_id = req.client_id](broker::auth_result r) {
    if (!mqtt::is_failure(r.reason)) {
      const auto& user = r.username ? r.username : username;
      r.policy = chat::chat_service::restrict(std::move(r.policy), user, client_id);
    }
    done(std::move(r));
  });
}

broker::publish_verdict app_hooks::on_publish(const broker::session_info& who,
                                              broker::message& m) {
  return chat_ ? chat_->on_publish(who, m) : broker::publish_verdict{};
}

void app_hooks::on_client_disconnected(const broker::session_info& who) {
  if (chat_) chat_->on_client_disconnected(who);
}

std::shared_ptr<const broker::client_policy> app_hooks::policy_for(
    const broker::session_info& who) const {
  auto p = auth_.policy_for(who);
  return chat_ ? chat::chat_service::restrict(std::move(p), who.username, who.client_id) : p;
}

}  // namespace natter::app
