#include "subscription_tree.hpp"

#include <algorithm>
#include <cassert>

#include "mqtt/topic.hpp"
#include "topic_levels.hpp"

namespace natter::broker {
using detail::next_level;
using detail::string_hash;

struct subscription_tree::shared_group {
  std::vector<std::pair<session*, subscription_options>> members;
  mutable std::size_t next = 0;
};

struct subscription_tree::node {
  node* parent = nullptr;
  std::string level;
  std::unordered_map<std::string, std::unique_ptr<node>, string_hash, std::equal_to<>> children;
  std::unordered_map<session*, subscription_options> subscribers;
  std::map<std::string, shared_group, std::less<>> shared;

  bool empty() const { return children.empty() && subscribers.empty() && shared.empty(); }
  const node* child(std::string_view l) const {
    auto it = children.find(l);
    return it == children.end() ? nullptr : it->second.get();
  }
};

subscription_tree::subscription_tree() : root_(std::make_unique<node>()) {}
subscription_tree::~subscription_tree() = default;

subscription_tree::node* subscription_tree::find_or_create(std::string_view filter) {
  node* n = root_.get();
  bool last = false;
  while (!last) {
    auto level = next_level(filter, last);
    auto it = n->children.find(level);
    if (it == n->children.end()) {
      auto child = std::make_unique<node>();
      child->parent = n;
      child->level = std::string(level);
      it = n->children.emplace(child->level, std::move(child)).first;
    }
    n = it->second.get();
  }
  return n;
}

bool subscription_tree::subscribe(session* s, std::string_view filter,
                                  const subscription_options& opts) {
  if (auto shared = mqtt::parse_shared_filter(filter)) {
    node* n = find_or_create(shared->filter);
    auto it = n->shared.find(shared->share_name);
    if (it == n->shared.end())
      it = n->shared.emplace(std::string(shared->share_name), shared_group{}).first;
    auto& members = it->second.members;
    auto m = std::find_if(members.begin(), members.end(), [&](auto& e) { return e.first == s; });
    if (m != members.end()) {
      m->second = opts;
      return false;
    }
    members.emplace_back(s, opts);
    ++count_;
    return true;
  }
  node* n = find_or_create(filter);
  auto [it, inserted] = n->subscribers.insert_or_assign(s, opts);
  if (inserted) ++count_;
  return inserted;
}

bool subscription_tree::unsubscribe(session* s, std::string_view filter) {
  std::string_view path = filter;
  std::string_view share_name;
  if (auto shared = mqtt::parse_shared_filter(filter)) {
    path = shared->filter;
    share_name = shared->share_name;
  }
  node* n = root_.get();
  bool last = false;
  while (!last) {
    auto level = next_level(path, last);
    auto it = n->children.find(level);
    if (it == n->children.end()) return false;
    n = it->second.get();
  }
  bool removed = false;
  if (!share_name.empty()) {
    auto g = n->shared.find(share_name);
    if (g != n->shared.end()) {
      auto& members = g->second.members;
      auto m = std::find_if(members.begin(), members.end(), [&](auto& e) { return e.first == s; });
      if (m != members.end()) {
        members.erase(m);
        removed = true;
        if (members.empty()) n->shared.erase(g);
      }
    }
  } else {
    removed = n->subscribers.erase(s) > 0;
  }
  if (!removed) return false;
  --count_;
  // Prune the now-empty branch so the trie never holds dead levels.
  while (n != root_.get() && n->empty()) {
    node* parent = n->parent;
    parent->children.erase(n->level);
    n = parent;
  }
  return true;
}

namespace {

template <class Node, class Emit>
void match_rec(const Node* n, std::string_view rest, bool at_end, bool first_level, bool dollar,
               const Emit& emit) {
  if (at_end) {
    emit(n);
    // "sport/#" also matches "sport" [MQTT-4.7.1-2 non-normative example].
    if (auto* hash = n->child("#")) emit(hash);
    return;
  }
  bool last = false;
  const auto level = next_level(rest, last);
  // A leading wildcard never matches a topic starting with '$' [MQTT-4.7.2-1].
  if (!(first_level && dollar)) {
    if (auto* hash = n->child("#")) emit(hash);
    if (auto* plus = n->child("+")) match_rec(plus, rest, last, false, dollar, emit);
  }
  if (auto* exact = n->child(level)) match_rec(exact, rest, last, false, dollar, emit);
}

}  // namespace

void subscription_tree::match(std::string_view topic, const visitor& fn,
                              const std::function<bool(const session*)>& prefer) const {
  const bool dollar = !topic.empty() && topic.front() == '$';
  match_rec(root_.get(), topic, false, true, dollar, [&](const node* n) {
    for (const auto& [s, opts] : n->subscribers) fn(s, opts);
    for (const auto& [name, group] : n->shared) {
      const auto& members = group.members;
      const std::size_t count = members.size();
      // Round robin, skipping members that `prefer` rejects (offline) while any accepts.
      std::size_t pick = group.next % count;
      for (std::size_t i = 0; i < count; ++i) {
        const std::size_t idx = (group.next + i) % count;
        if (!prefer || prefer(members[idx].first)) {
          pick = idx;
          break;
        }
      }
      group.next = pick + 1;
      fn(members[pick].first, members[pick].second);
    }
  });
}

}  // namespace natter::broker
