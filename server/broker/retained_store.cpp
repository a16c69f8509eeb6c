#include "retained_store.hpp"

#include <unordered_map>
#include <vector>

#include "topic_levels.hpp"

namespace natter::broker {
using detail::next_level;
using detail::string_hash;

struct retained_store::node {
  node* parent = nullptr;
  std::string level;
  std::unordered_map<std::string, std::unique_ptr<node>, string_hash, std::equal_to<>> children;
  message_ptr msg;
};

retained_store::retained_store() : root_(std::make_unique<node>()) {}
retained_store::~retained_store() = default;

void retained_store::update(const message_ptr& m) {
  std::string_view rest = m->topic;
  node* n = root_.get();
  bool last = false;
  if (m->payload.empty()) {
    // Clear: find the node, drop its message, prune empty ancestors [MQTT-3.3.1-10].
    while (!last) {
      auto it = n->children.find(next_level(rest, last));
      if (it == n->children.end()) return;
      n = it->second.get();
    }
    if (!n->msg) return;
    n->msg.reset();
    --count_;
    while (n != root_.get() && !n->msg && n->children.empty()) {
      node* parent = n->parent;
      parent->children.erase(n->level);
      n = parent;
    }
    return;
  }
  while (!last) {
    auto level = next_level(rest, last);
    auto it = n->children.find(level);
    if (it == n->children.end()) {
      auto child = std::make_unique<node>();
      child->parent = n;
      child->level = std::string(level);
      it = n->children.emplace(child->level, std::move(child)).first;
    }
    n = it->second.get();
  }
  if (!n->msg) ++count_;
  n->msg = m;  // replaces any previous retained message [MQTT-3.3.1-5]
}

namespace {

template <class Node, class Fn>
void visit_all(const Node* n, bool skip_dollar, const Fn& fn) {
  if (n->msg) fn(n->msg);
  for (const auto& [level, child] : n->children) {
    if (skip_dollar && !level.empty() && level.front() == '$') continue;
    visit_all(child.get(), false, fn);
  }
}

template <class Node, class Fn>
void match_rec(const Node* n, std::string_view rest, bool at_end, bool first_level, const Fn& fn) {
  if (at_end) {
    if (n->msg) fn(n->msg);
    return;
  }
  bool last = false;
  const auto level = next_level(rest, last);
  if (level == "#") {
    // '#' matches the parent level and everything below; never '$' topics from the root.
    visit_all(n, first_level, fn);
    return;
  }
  if (level == "+") {
    for (const auto& [name, child] : n->children) {
      if (first_level && !name.empty() && name.front() == '$') continue;  // [MQTT-4.7.2-1]
      match_rec(child.get(), rest, last, false, fn);
    }
    return;
  }
  auto it = n->children.find(level);
  if (it != n->children.end()) match_rec(it->second.get(), rest, last, false, fn);
}

}  // namespace

void retained_store::match(std::string_view filter,
                           const std::function<void(const message_ptr&)>& fn) const {
  // visit_all at the root would report the root node itself, which never holds a message.
  match_rec(root_.get(), filter, false, true, fn);
}

std::size_t retained_store::purge_expired(clock::time_point now) {
  std::vector<message_ptr> expired;
  visit_all(root_.get(), false, [&](const message_ptr& m) {
    if (m->expired(now)) expired.push_back(m);
  });
  for (const auto& m : expired) {
    auto cleared = std::make_shared<message>();
    cleared->topic = m->topic;
    update(cleared);
  }
  return expired.size();
}

}  // namespace natter::broker
