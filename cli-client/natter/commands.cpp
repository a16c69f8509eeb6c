#include "commands.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "format.hpp"
#include "mqtt/error.hpp"

namespace natter::term {

namespace asio = boost::asio;

namespace {

void print_line(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);  // a script reading a pipe sees each item as it comes
}

void print_error(const std::string& s) {
  std::fflush(stdout);
  std::fprintf(stderr, "natter: %s\n", s.c_str());
}

// What every sub-command does around its job: one io_context, one chat_client, SIGINT /
// SIGTERM end it cleanly, a connection that fails ends it with exit_connection.
class session {
 public:
  session(const resolved& r, chat::chat_options o)
      : server_(r.server), signals_(ioc_, SIGINT, SIGTERM), idle_(ioc_) {
    client_ = chat::chat_client::create(ioc_.get_executor(), std::move(o));
    client_->on_state([this](const chat::chat_status& s) { on_state(s); });
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) finish(status_);
    });
  }

  std::function<void()> on_connected;
  chat::chat_client& client() { return *client_; }
  asio::io_context& ioc() { return ioc_; }
  asio::steady_timer& idle() { return idle_; }

  int run() {
    client_->start();
    ioc_.run();
    return status_;
  }

  // Disconnects cleanly, then run() returns `status`.
  void finish(int status) {
    if (finishing_) return;
    finishing_ = true;
    status_ = status;
    signals_.cancel();
    idle_.cancel();
    client_->stop([this] { ioc_.stop(); });
  }

  void fail(int status, const std::string& why) {
    if (finishing_) return;
    print_error(why);
    finish(status);
  }

 private:
  void on_state(const chat::chat_status& s) {
    if (s.state == chat::chat_state::connected) {
      if (!started_ && on_connected) {
        started_ = true;
        on_connected();
      }
      return;
    }
    if (s.state != chat::chat_state::disconnected || finishing_) return;
    const std::string why = describe_failure(s.ec);
    if (!s.ever_connected) {
      print_error("cannot connect to " + server_ + ": " + why);
    } else {
      print_error("connection to " + server_ + " lost: " + why);
    }
    finishing_ = true;
    status_ = exit_connection;
    ioc_.stop();
  }

  std::string server_;
  asio::io_context ioc_{1};
  asio::signal_set signals_;
  asio::steady_timer idle_;
  std::shared_ptr<chat::chat_client> client_;
  int status_ = exit_ok;
  bool started_ = false;
  bool finishing_ = false;
};

// One-off commands: no presence, no session, no receipts, no reconnecting.
chat::chat_options one_off(const resolved& r) {
  chat::chat_options o = r.chat;
  o.persistent = false;
  o.announce = false;
  o.watch_presence = false;
  o.send_delivered = false;
  o.mqtt.reconnect.enabled = false;
  return o;
}

std::string refusal(const std::error_code& ec) {
  if (ec.category() == mqtt::reason_category()) return describe_failure(ec);
  return ec.message();
}

int status_for(const std::error_code& ec) {
  if (ec == chat::errc::request_timeout) return exit_timeout;
  if (ec.category() == mqtt::reason_category() || ec == chat::errc::request_refused ||
      ec == chat::errc::bad_user_name)
    return exit_refused;
  return exit_connection;
}

std::string pretty_presence(const v1::Presence& p, std::int64_t now, bool color) {
  const char* dot = p.state() == v1::PRESENCE_STATE_ONLINE ? "\u25CF"
                    : p.state() == v1::PRESENCE_STATE_AWAY ? "\u25D0"
                                                           : "\u25CB";
  const char* on = "";
  const char* off = "";
  if (color) {
    on = p.state() == v1::PRESENCE_STATE_ONLINE ? "\033[32m"
         : p.state() == v1::PRESENCE_STATE_AWAY ? "\033[33m"
                                                : "\033[2m";
    off = "\033[0m";
  }
  std::string name = p.user();
  if (name.size() < 16) name.append(16 - name.size(), ' ');
  std::string out =
      std::string(on) + dot + off + " " + name + " " + std::string(state_name(p.state()));
  if (p.state() == v1::PRESENCE_STATE_OFFLINE) {
    out += p.last_seen_ms() > 0 ? ", last seen " + ago(p.last_seen_ms(), now) : ", never seen";
  } else {
    out += " (" + std::to_string(p.device_count()) +
           (p.device_count() == 1 ? " device)" : " devices)");
    if (p.last_seen_ms() > 0) out += " since " + local_time(p.last_seen_ms());
  }
  if (!p.status_text().empty()) out += " \u2014 " + escape_line(p.status_text());
  return out;
}

}  // namespace

// ---------------------------------------------------------------- send

int run_send(const resolved& r, const send_args& a, const output_options& out) {
  if (!chat::valid_user_name(a.peer)) {
    print_error("'" + a.peer + "' is not a valid user name");
    return exit_usage;
  }
  session s(r, one_off(r));
  std::string cmid;
  bool acked = false;
  std::optional<v1::ChatMessage> copy;
  auto done = [&] {
    if (out.json) {
      std::string o = "{\"client_msg_id\":" + json_string(cmid);
      if (copy) {
        o += ",\"id\":" + std::to_string(copy->id()) +
             ",\"server_at_ms\":" + std::to_string(copy->server_at_ms());
      }
      print_line(o + "}");
    }
    s.finish(exit_ok);
  };
  s.client().on_message([&](const v1::ChatMessage& m) {
    if (m.client_msg_id() != cmid || m.sender() != r.chat.mqtt.connect.username) return;
    copy = m;
    if (acked) done();
  });
  s.on_connected = [&] {
    cmid = s.client().send(a.peer, a.text, a.reply_to, [&](std::error_code ec) {
      if (ec) {
        return s.fail(status_for(ec), "the server refused the message: " + refusal(ec));
      }
      acked = true;
      // Stored: that is success. --json also reports the server's id, from our copy.
      if (!out.json || copy) return done();
      s.idle().expires_after(r.chat.request_timeout);
      s.idle().async_wait([&](boost::system::error_code e) {
        if (!e) done();
      });
    });
  };
  return s.run();
}

// ---------------------------------------------------------------- read

int run_read(const resolved& r, const read_args& a, const output_options& out) {
  chat::chat_options o = r.chat;
  o.persistent = true;  // what queued for this device while it was away
  o.announce = a.follow;
  o.watch_presence = false;
  o.send_delivered = true;
  o.mqtt.reconnect.enabled = a.follow;
  o.mqtt.reconnect.retry_initial = false;
  session s(r, std::move(o));
  const std::string me = r.chat.mqtt.connect.username.value_or("");
  bool synced = false;
  auto arm_idle = [&] {
    if (a.follow || !synced) return;
    s.idle().expires_after(std::chrono::milliseconds(static_cast<long>(a.idle * 1000)));
    s.idle().async_wait([&](boost::system::error_code e) {
      if (!e) s.finish(exit_ok);
    });
  };
  s.client().on_message([&](const v1::ChatMessage& m) {
    if (m.sender() == me && !a.all) return;
    print_line(out.json ? message_json(m) : message_line(m, me));
    if (a.mark_read && m.sender() != me) s.client().mark_read(m.sender(), m.id());
    arm_idle();
  });
  s.on_connected = [&] {
    if (a.follow) return;
    // The answer comes after everything the server had queued for us when we connected
    // started flowing; then wait until nothing has come for a moment.
    s.client().conversations([&](std::error_code ec, const v1::ConversationsResponse&) {
      if (ec) return s.fail(status_for(ec), "no answer from the chat service: " + refusal(ec));
      synced = true;
      arm_idle();
    });
  };
  return s.run();
}

// ---------------------------------------------------------------- who

int run_who(const resolved& r, const output_options& out) {
  chat::chat_options o = one_off(r);
  o.watch_presence = true;
  session s(r, std::move(o));
  std::map<std::string, v1::Presence> everyone;
  s.client().on_presence([&](const v1::Presence& p) { everyone[p.user()] = p; });
  s.on_connected = [&] {
    // Retained presence is sent on subscribing, before anything the server does after:
    // once this answer is here, the list is complete.
    s.client().conversations([&](std::error_code ec, const v1::ConversationsResponse&) {
      if (ec) return s.fail(status_for(ec), "no answer from the chat service: " + refusal(ec));
      const auto now = now_ms();
      for (const auto& [user, p] : everyone) {
        if (out.json) {
          print_line(presence_json(p));
        } else if (out.tty) {
          print_line(pretty_presence(p, now, out.color));
        } else {
          print_line(presence_line(p));
        }
      }
      s.finish(exit_ok);
    });
  };
  return s.run();
}

// ---------------------------------------------------------------- history

int run_history(const resolved& r, const history_args& a, const output_options& out) {
  if (!chat::valid_user_name(a.peer)) {
    print_error("'" + a.peer + "' is not a valid user name");
    return exit_usage;
  }
  session s(r, one_off(r));
  const std::string me = r.chat.mqtt.connect.username.value_or("");
  std::vector<v1::ChatMessage> got;  // newest first, as pages come
  std::function<void(std::uint64_t)> page = [&](std::uint64_t before) {
    const unsigned want = std::min<unsigned>(a.limit - static_cast<unsigned>(got.size()), 200);
    s.client().history(a.peer, before, want, [&](std::error_code ec, const v1::HistoryResponse& h) {
      if (ec) {
        const std::string why = h.error().empty() ? refusal(ec) : h.error();
        return s.fail(status_for(ec), "history refused: " + why);
      }
      for (const auto& m : h.messages()) {
        if (got.size() < a.limit) got.push_back(m);
      }
      if (h.has_more() && got.size() < a.limit && !h.messages().empty()) {
        std::uint64_t oldest = h.messages(0).id();
        for (const auto& m : h.messages()) oldest = std::min(oldest, m.id());
        return page(oldest);
      }
      for (auto it = got.rbegin(); it != got.rend(); ++it) {
        print_line(out.json ? message_json(*it) : message_line(*it, me));
      }
      s.finish(exit_ok);
    });
  };
  s.on_connected = [&] {
    if (a.limit == 0) return s.finish(exit_ok);
    page(a.before);
  };
  return s.run();
}

}  // namespace natter::term
