// Topic access control with mosquitto's acl_file (mosquitto.conf(5); behaviour of mosquitto
// 2.0's src/security_default.c and src/security.c, checked against the 2.0.11 broker).
//
// File format, one statement per line:
//   user NAME                              following `topic` lines apply to NAME
//   topic [read|write|readwrite|deny] FILTER
//   pattern [read|write|readwrite|deny] FILTER   applies to every client; %u = username,
//                                                %c = client id
// `topic` lines before the first `user` line apply to anonymous clients only. No access word
// means readwrite. A line whose first character is '#' is a comment. Words are separated by
// spaces (not tabs, as in mosquitto); FILTER is the rest of the line, so it may contain spaces.
//
// Decision for a topic and an access (read = receive a message, write = publish):
//  1. `$SYS...` is never writable and `$share...` is never read or written (mosquitto's
//     acl__check_dollar; its one exception, bridge status topics, does not apply to Natter).
//  2. No acl_file: everything else is allowed.
//  3. The client's own rules (its `user` block, or the anonymous block): a matching `deny` rule
//     refuses, else a matching rule that grants the access allows. Rules for topics starting
//     with '$' only match filters that start with '$'.
//  4. Patterns, if any: refused outright when the username or client id contains '+' or '#'
//     (mosquitto: such a value substituted into a filter would widen it). Natter also refuses
//     when a value that a pattern substitutes contains '/': user "alice/x" with
//     `pattern read chat/%u/#` would otherwise read part of user alice's space; mosquitto 2.0
//     lets that through. Then, as in 3: matching deny refuses, matching grant allows; patterns
//     with %u do not apply to anonymous clients.
//  5. Otherwise refused.
// A grant in step 3 wins over a deny pattern in step 4, exactly as in mosquitto.
//
// SUBSCRIBE: mosquitto 2.0's acl_file does not restrict subscriptions at all (SUBACK grants any
// filter; its code says "FIXME - implement ACL subscription strings"). What a client may see is
// enforced when messages are delivered: the broker must check read access for each message
// it sends a subscriber, retained messages included. check_subscribe() keeps that behaviour,
// so that SUBACK results match mosquitto's.
//
// Threads: acl_db and client_acl are immutable after construction and safe to share.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/load_error.hpp"

namespace natter::auth {

enum class access : unsigned {
  read = 1,       // a message on this topic may be delivered to the client
  write = 2,      // the client may publish on this topic
  subscribe = 4,  // the client may subscribe to this filter
};

// A topic filter in an ACL, mosquitto's matching rules: '+' one level, '#' the rest (and the
// parent level), topics starting with '$' matched only by filters starting with '$'. False when
// `topic` contains a wildcard.
bool acl_topic_matches(std::string_view filter, std::string_view topic) noexcept;

class acl_db;

// One connection's rules, resolved once at CONNECT (patterns substituted), so per-message
// checks do no allocation. Holds shared ownership of what it needs: it stays valid after the
// acl_db it came from is replaced by a reload.
class client_acl {
 public:
  bool check(std::string_view topic, access a) const;
  bool can_read(std::string_view topic) const { return check(topic, access::read); }
  bool can_write(std::string_view topic) const { return check(topic, access::write); }
  bool can_subscribe(std::string_view filter) const { return check(filter, access::subscribe); }

 private:
  friend class acl_db;
  struct rule {
    std::string filter;
    unsigned grants = 0;  // read|write bits; 0 = deny
  };
  bool restricted_ = false;                       // an acl_file is in force
  std::shared_ptr<const std::vector<rule>> own_;  // step 3, may be null
  bool patterns_refused_ = false;                 // step 4 refuses everything
  std::vector<rule> patterns_;                    // step 4, substituted
};

class acl_db {
 public:
  // No acl_file: every client may read and write everything but $SYS (write) and $share.
  acl_db() = default;

  // Errors read "PATH: ..." or "PATH:LINE: ...".
  static load_result<acl_db> load(const std::string& path);
  // The same from text in memory; `name` stands for PATH in messages.
  static load_result<acl_db> parse(std::string_view text, std::string_view name);

  // Resolves the rules for one client. `username` is nullopt for a client that sent none (an
  // empty username is a username).
  client_acl for_client(std::optional<std::string_view> username, std::string_view client_id) const;

  // One-off checks; resolve the client each time. Prefer for_client() on hot paths.
  bool check(std::optional<std::string_view> username, std::string_view client_id,
             std::string_view topic, access a) const;
  bool check_subscribe(std::optional<std::string_view> username, std::string_view client_id,
                       std::string_view filter) const;

  // Lines that load but are probably mistakes ("FILE:LINE: ..."), for the log: patterns
  // without %u or %c (mosquitto warns about those too).
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }

  bool restricted() const noexcept { return restricted_; }

 private:
  using rule = client_acl::rule;
  using rules = std::vector<rule>;
  struct pattern {
    rule r;  // filter still holds %u / %c
    bool uses_username = false;
    bool uses_client_id = false;
  };
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  bool restricted_ = false;
  std::shared_ptr<const rules> anonymous_;
  std::unordered_map<std::string, std::shared_ptr<const rules>, string_hash, std::equal_to<>>
      users_;
  std::vector<pattern> patterns_;
  std::vector<std::string> warnings_;
};

}  // namespace natter::auth
