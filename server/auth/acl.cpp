// acl_file parsing and decisions, following mosquitto 2.0 (see acl.hpp for the rules and where
// Natter deliberately differs).
#include "auth/acl.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace natter::auth {
namespace {

// isspace() in the C locale, which is what mosquitto trims with.
bool is_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// mosquitto_sub_topic_check(): '+' a whole level, '#' a whole last level, at most 65535 bytes
// and 200 levels below the first (TOPIC_HIERARCHY_LIMIT).
bool is_valid_acl_filter(std::string_view f) {
  if (f.empty() || f.size() > 65535) return false;
  std::size_t slashes = 0;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    const bool level_start = i == 0 || f[i - 1] == '/';
    const bool level_end = i + 1 == f.size() || f[i + 1] == '/';
    if (c == '+' && !(level_start && level_end)) return false;
    if (c == '#' && !(level_start && i + 1 == f.size())) return false;
    if (c == '/') ++slashes;
  }
  return slashes <= 200;
}

// Splits a line the way mosquitto's strtok_r(buf, " ") does: a word ends at a space, and the
// single space after it is consumed.
class words {
 public:
  explicit words(std::string_view s) : s_(s) {}
  std::string_view next() {
    while (!s_.empty() && s_.front() == ' ') s_.remove_prefix(1);
    const auto end = s_.find(' ');
    const std::string_view w = s_.substr(0, end);
    s_ = end == std::string_view::npos ? std::string_view{} : s_.substr(end + 1);
    return w;
  }
  std::string_view rest() const { return s_; }

 private:
  std::string_view s_;
};

std::string at(std::string_view name, std::size_t line) {
  std::string s(name);
  s += ':';
  s += std::to_string(line);
  s += ": ";
  return s;
}

bool contains_any(std::string_view s, std::string_view chars) {
  return s.find_first_of(chars) != std::string_view::npos;
}

}  // namespace

bool acl_topic_matches(std::string_view filter, std::string_view topic) noexcept {
  if (filter.empty() || topic.empty()) return false;
  if (contains_any(topic, "+#")) return false;
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match a '$' topic; mosquitto
  // extends it both ways: '$' filters only match '$' topics.
  if ((topic.front() == '$') != (filter.front() == '$')) return false;
  std::size_t f = 0, t = 0;
  for (;;) {
    const std::size_t fe = std::min(filter.find('/', f), filter.size());
    const std::string_view level = filter.substr(f, fe - f);
    if (level == "#") return true;  // also matches the parent: "a/#" matches "a"
    const std::size_t te = std::min(topic.find('/', t), topic.size());
    if (level != "+" && level != topic.substr(t, te - t)) return false;
    const bool filter_done = fe == filter.size();
    const bool topic_done = te == topic.size();
    if (filter_done || topic_done) {
      if (filter_done && topic_done) return true;
      if (filter_done) return false;
      // Topic done, filter has more: only "/#" may follow.
      return filter.substr(fe) == "/#";
    }
    f = fe + 1;
    t = te + 1;
  }
}

bool client_acl::check(std::string_view topic, access a) const {
  // Step 1, mosquitto's acl__check_dollar (prefix comparisons, as there).
  if (starts_with(topic, "$SYS")) {
    if (a == access::write) return false;
  } else if (starts_with(topic, "$share")) {
    if (a != access::subscribe) return false;
  }
  if (!restricted_) return true;
  if (a == access::subscribe) return true;  // see acl.hpp: mosquitto 2.0 grants every filter

  const unsigned bit = static_cast<unsigned>(a);
  if (own_) {
    // Deny rules come first in the list, so any matching deny refuses.
    for (const rule& r : *own_) {
      if (!acl_topic_matches(r.filter, topic)) continue;
      if (r.grants == 0) return false;
      if (r.grants & bit) return true;
    }
  }
  if (patterns_refused_) return false;
  for (const rule& r : patterns_) {
    if (!acl_topic_matches(r.filter, topic)) continue;
    if (r.grants == 0) return false;
    if (r.grants & bit) return true;
  }
  return false;
}

load_result<acl_db> acl_db::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return load_error{path + ": cannot open acl file: " + std::strerror(errno)};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return load_error{path + ": cannot read acl file"};
  return parse(text.str(), path);
}

load_result<acl_db> acl_db::parse(std::string_view text, std::string_view name) {
  acl_db db;
  db.restricted_ = true;
  rules anonymous;
  std::unordered_map<std::string, rules, string_hash, std::equal_to<>> users;
  std::optional<std::string> user;  // the current `user` block; none = anonymous

  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);

    while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
    // mosquitto only knows '#' in the first column; an indented comment is an error there, so
    // accepting it here changes the meaning of no file mosquitto accepts.
    if (trim(line).empty() || trim(line).front() == '#') continue;

    words w(line);
    const std::string_view keyword = w.next();
    if (keyword == "topic" || keyword == "pattern") {
      std::string_view access_word = w.next();
      if (access_word.empty())
        return load_error{at(name, line_no) + "missing topic after '" + std::string(keyword) + "'"};
      std::string_view filter = trim(w.rest());
      unsigned grants = static_cast<unsigned>(access::read) | static_cast<unsigned>(access::write);
      if (filter.empty()) {
        // "topic foo": foo is the filter, access readwrite (mosquitto reads it the same way,
        // so "topic read" alone is a readwrite rule for the topic "read").
        filter = access_word;
      } else if (access_word == "read") {
        grants = static_cast<unsigned>(access::read);
      } else if (access_word == "write") {
        grants = static_cast<unsigned>(access::write);
      } else if (access_word == "readwrite") {
      } else if (access_word == "deny") {
        grants = 0;
      } else {
        return load_error{at(name, line_no) + "invalid access type '" + std::string(access_word) +
                          "' (expected read, write, readwrite or deny)"};
      }
      if (!is_valid_acl_filter(filter))
        return load_error{at(name, line_no) + "invalid topic filter '" + std::string(filter) + "'"};
      rule r{std::string(filter), grants};
      if (keyword == "topic") {
        rules& list = user ? users[*user] : anonymous;
        list.push_back(std::move(r));
      } else {
        pattern p;
        p.uses_username = r.filter.find("%u") != std::string::npos;
        p.uses_client_id = r.filter.find("%c") != std::string::npos;
        if (!p.uses_username && !p.uses_client_id) {
          db.warnings_.push_back(at(name, line_no) + "pattern '" + r.filter +
                                 "' contains neither %u nor %c; it applies to every client "
                                 "alike");
        }
        p.r = std::move(r);
        db.patterns_.push_back(std::move(p));
      }
    } else if (keyword == "user") {
      const std::string_view u = trim(w.rest());
      if (u.empty()) return load_error{at(name, line_no) + "missing username after 'user'"};
      user = std::string(u);
    } else {
      return load_error{at(name, line_no) + "invalid line: expected 'user', 'topic' or " +
                        "'pattern' (words are separated by spaces)"};
    }
  }

  // Deny rules first, as mosquitto puts them at the front of each list.
  const auto deny_first = [](rules& list) {
    std::stable_partition(list.begin(), list.end(), [](const rule& r) { return r.grants == 0; });
  };
  if (!anonymous.empty()) {
    deny_first(anonymous);
    db.anonymous_ = std::make_shared<const rules>(std::move(anonymous));
  }
  for (auto& [u, list] : users) {
    deny_first(list);
    db.users_.emplace(u, std::make_shared<const rules>(std::move(list)));
  }
  std::stable_partition(db.patterns_.begin(), db.patterns_.end(),
                        [](const pattern& p) { return p.r.grants == 0; });
  return db;
}

client_acl acl_db::for_client(std::optional<std::string_view> username,
                              std::string_view client_id) const {
  client_acl c;
  c.restricted_ = restricted_;
  if (!restricted_) return c;

  if (username) {
    if (const auto it = users_.find(*username); it != users_.end()) c.own_ = it->second;
  } else {
    c.own_ = anonymous_;
  }

  if (patterns_.empty()) return c;
  // mosquitto refuses every pattern when either value holds a wildcard, whatever the patterns
  // say; Natter also refuses a '/' in a value that some pattern substitutes (see acl.hpp).
  bool refused = (username && contains_any(*username, "+#")) || contains_any(client_id, "+#");
  for (const pattern& p : patterns_) {
    if (p.uses_username && username && contains_any(*username, "/")) refused = true;
    if (p.uses_client_id && contains_any(client_id, "/")) refused = true;
  }
  if (refused) {
    c.patterns_refused_ = true;
    return c;
  }
  for (const pattern& p : patterns_) {
    if (p.uses_username && !username) continue;  // %u patterns skip anonymous clients
    std::string f;
    f.reserve(p.r.filter.size() + 32);
    const std::string& src = p.r.filter;
    for (std::size_t i = 0; i < src.size(); ++i) {
      if (src[i] == '%' && i + 1 < src.size()) {
        if (src[i + 1] == 'c') {
          f += client_id;
          ++i;
          continue;
        }
        if (src[i + 1] == 'u' && username) {
          f += *username;
          ++i;
          continue;
        }
      }
      f += src[i];
    }
    c.patterns_.push_back(client_acl::rule{std::move(f), p.r.grants});
  }
  return c;
}

bool acl_db::check(std::optional<std::string_view> username, std::string_view client_id,
                   std::string_view topic, access a) const {
  return for_client(username, client_id).check(topic, a);
}

bool acl_db::check_subscribe(std::optional<std::string_view> username, std::string_view client_id,
                             std::string_view filter) const {
  return check(username, client_id, filter, access::subscribe);
}

}  // namespace natter::auth
