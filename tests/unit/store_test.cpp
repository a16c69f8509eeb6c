// sqlite_store against a real SQLite file in a temporary directory: round trips through
// close/reopen, erase cascade, ordering, expiry at load, after_durable only after commit,
// group commit, refusal of damaged or foreign files, and crash recovery (a child process
// killed with SIGKILL while writing: every delivery it acknowledged must be there).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "store/sqlite_store.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using natter::store::delivery_record;
using natter::store::incoming_record;
using natter::store::retained_record;
using natter::store::session_record;
using natter::store::snapshot;
using natter::store::sqlite_store;
using natter::store::sqlite_store_options;
using natter::store::subscription_record;
using natter::store::sync_policy;
using natter::store::wall_clock;
using natter::store::will_record;

// Field-by-field equality (the records have no operator==), with readable failures.
auto fields(const session_record& r) {
  return std::tie(r.client_id, r.username, r.expiry_interval, r.expires_at, r.last_packet_id);
}
auto fields(const subscription_record& r) {
  return std::tie(r.client_id, r.filter, r.options, r.subscription_id);
}
auto fields(const delivery_record& r) {
  return std::tie(r.client_id, r.seq, r.publish, r.subscription_ids, r.expires_at, r.packet_id,
                  r.released);
}
auto fields(const incoming_record& r) {
  return std::tie(r.client_id, r.packet_id, r.publish, r.expires_at);
}
auto fields(const retained_record& r) {
  return std::tie(r.topic, r.publish, r.expires_at);
}
auto fields(const will_record& r) {
  return std::tie(r.client_id, r.publish, r.fire_at, r.expires_at);
}
template <typename T>
bool same(const T& a, const T& b) {
  return fields(a) == fields(b);
}
template <typename T>
::testing::AssertionResult same_list(const std::vector<T>& got, const std::vector<T>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size " << got.size() << ", want " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (!same(got[i], want[i])) return ::testing::AssertionFailure() << "differs at " << i;
  return ::testing::AssertionSuccess();
}

std::vector<std::uint8_t> bytes(std::string_view s) {
  return {s.begin(), s.end()};
}

std::vector<std::uint8_t> payload_for(std::uint64_t i) {
  std::vector<std::uint8_t> p(40 + i % 64);
  for (std::size_t k = 0; k < p.size(); ++k) p[k] = static_cast<std::uint8_t>(i * 31 + k);
  return p;
}

// Runs deferred callbacks on its own thread, like a strand would.
class test_executor {
 public:
  test_executor() : thread_([this] { run(); }) {}
  ~test_executor() {
    {
      std::lock_guard lk(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  natter::store::deferrer deferrer() {
    return [this](std::function<void()> f) {
      {
        std::lock_guard lk(mu_);
        q_.push_back(std::move(f));
        ++posts_;
      }
      cv_.notify_one();
    };
  }
  std::size_t posts() {
    std::lock_guard lk(mu_);
    return posts_;
  }

 private:
  void run() {
    std::unique_lock lk(mu_);
    for (;;) {
      cv_.wait(lk, [&] { return done_ || !q_.empty(); });
      if (q_.empty()) return;
      auto f = std::move(q_.front());
      q_.pop_front();
      lk.unlock();
      f();
      lk.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
  std::size_t posts_ = 0;
  bool done_ = false;
  std::thread thread_;
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tmpl = (fs::temp_directory_path() / "natter-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "natter.db";
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<sqlite_store> open(sync_policy p = sync_policy::always,
                                     natter::store::deferrer d = {}, sqlite_store_options o = {}) {
    return std::make_unique<sqlite_store>(path_, p, std::move(d), std::move(o));
  }
  snapshot reopen_and_load(wall_clock::time_point now = wall_clock::now()) {
    return open()->load(now);
  }
  // The message open() throws, or "" if it opened.
  std::string open_error() {
    try {
      open();
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }
  // A plain SQLite connection to the same file.
  sqlite3* raw(int flags = SQLITE_OPEN_READWRITE) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, flags, nullptr), SQLITE_OK);
    return db;
  }
  std::int64_t count_rows(const char* table, int flags = SQLITE_OPEN_READONLY) {
    sqlite3* db = raw(flags);
    sqlite3_stmt* st = nullptr;
    const std::string sql = std::string("SELECT count(*) FROM ") + table;
    std::int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  fs::path dir_;
  fs::path path_;
};

const auto t0 = wall_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789LL));

TEST(SyncPolicy, ParsesTheConfigurationWords) {
  EXPECT_EQ(natter::store::parse_sync_policy("always"), sync_policy::always);
  EXPECT_EQ(natter::store::parse_sync_policy("batch"), sync_policy::batch);
  EXPECT_EQ(natter::store::parse_sync_policy("none"), sync_policy::none);
  EXPECT_EQ(natter::store::parse_sync_policy("Always"), std::nullopt);
  EXPECT_EQ(natter::store::to_string(sync_policy::batch), "batch");
}

TEST_F(StoreTest, NewStoreIsEmptyWalAndStrict) {
  auto s = open();
  auto snap = s->load(wall_clock::now());
  EXPECT_TRUE(snap.sessions.empty());
  EXPECT_TRUE(snap.deliveries.empty());
  sqlite3* db = raw(SQLITE_OPEN_READONLY);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE sql LIKE '%STRICT%'",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 8);  // every table
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST_F(StoreTest, EveryRecordTypeRoundTripsThroughReopen) {
  std::vector<std::uint8_t> all_bytes(256);
  std::iota(all_bytes.begin(), all_bytes.end(), 0);
  const std::vector<session_record> sessions = {
      {"alice", "alice-user", 0xFFFFFFFF, std::nullopt, 65535},
      {"bob", std::nullopt, 3600, t0 + 1h, 7},
      {"carol\xc3\xa9", "", 0, t0 + 1ns, 0},
  };
  const std::vector<subscription_record> subs = {
      {"alice", "a/#", 0x2e, 0},
      {"alice", "b/+/c", 0x01, 268435455},
      {"bob", "$share/g/x", 0x02, 1},
  };
  const std::vector<delivery_record> deliveries = {
      {"alice", 0, all_bytes, {}, std::nullopt, 0, false},
      {"alice", (std::uint64_t{1} << 63), bytes("mid"), {1, 2, 0xFFFFFFFF}, t0 + 2h, 65535, true},
      {"alice", std::numeric_limits<std::uint64_t>::max(), {}, {7}, t0 + 3h, 1, false},
      {"bob", 42, bytes("x"), {0}, std::nullopt, 9, false},
  };
  const std::vector<incoming_record> incoming = {
      {"alice", 1, all_bytes, std::nullopt},
      {"alice", 65535, {}, t0 + 5h},
  };
  const std::vector<retained_record> retained = {
      {"a/b", bytes("retained"), std::nullopt},
      {"z", all_bytes, t0 + 24h},
  };
  const std::vector<will_record> wills = {
      {"alice", bytes("will"), t0, std::nullopt},
      {"bob", {}, t0 + 30s, t0 + 1h},
  };
  {
    auto s = open();
    // Older values first: the second put of a key replaces the first (upsert).
    s->put_session({"alice", std::nullopt, 1, t0, 1});
    s->put_subscription({"alice", "a/#", 0, 99});
    s->put_delivery({"bob", 42, bytes("old"), {5}, t0, 0, true});
    s->put_incoming({"alice", 1, bytes("old"), t0});
    s->put_retained({"a/b", bytes("old"), t0});
    s->put_will({"bob", bytes("old"), t0, std::nullopt});
    for (auto& r : sessions) s->put_session(r);
    for (auto& r : subs) s->put_subscription(r);
    for (auto& r : deliveries) s->put_delivery(r);
    for (auto& r : incoming) s->put_incoming(r);
    for (auto& r : retained) s->put_retained(r);
    for (auto& r : wills) s->put_will(r);
  }  // destructor: flush and close
  const auto snap = reopen_and_load(t0);
  EXPECT_TRUE(same_list(snap.sessions, sessions));
  EXPECT_TRUE(same_list(snap.subscriptions, subs));
  EXPECT_TRUE(same_list(snap.deliveries, deliveries));
  EXPECT_TRUE(same_list(snap.incoming, incoming));
  EXPECT_TRUE(same_list(snap.retained, retained));
  EXPECT_TRUE(same_list(snap.wills, wills));
}

TEST_F(StoreTest, SingleEraseAndDeliveryStateAreApplied) {
  {
    auto s = open();
    s->put_session({"a", std::nullopt, 60, std::nullopt, 0});
    s->put_subscription({"a", "x", 1, 0});
    s->put_subscription({"a", "y", 1, 0});
    s->put_delivery({"a", 1, bytes("1"), {}, std::nullopt, 0, false});
    s->put_delivery({"a", 2, bytes("2"), {}, std::nullopt, 0, false});
    s->set_delivery_state("a", 2, 17, true);
    s->put_incoming({"a", 5, bytes("in"), std::nullopt});
    s->put_incoming({"a", 6, bytes("in"), std::nullopt});
    s->put_retained({"r1", bytes("r"), std::nullopt});
    s->put_retained({"r2", bytes("r"), std::nullopt});
    s->put_will({"a", bytes("w"), t0, std::nullopt});
    s->erase_subscription("a", "x");
    s->erase_delivery("a", 1);
    s->erase_incoming("a", 5);
    s->erase_retained("r1");
    s->erase_will("a");
    s->set_delivery_state("a", 99, 1, false);  // no such row: a no-op, not an error
    ASSERT_TRUE(s->flush());
  }
  const auto snap = reopen_and_load();
  ASSERT_EQ(snap.subscriptions.size(), 1u);
  EXPECT_EQ(snap.subscriptions[0].filter, "y");
  ASSERT_EQ(snap.deliveries.size(), 1u);
  EXPECT_EQ(snap.deliveries[0].seq, 2u);
  EXPECT_EQ(snap.deliveries[0].packet_id, 17);
  EXPECT_TRUE(snap.deliveries[0].released);
  ASSERT_EQ(snap.incoming.size(), 1u);
  EXPECT_EQ(snap.incoming[0].packet_id, 6);
  ASSERT_EQ(snap.retained.size(), 1u);
  EXPECT_EQ(snap.retained[0].topic, "r2");
  EXPECT_TRUE(snap.wills.empty());
}

TEST_F(StoreTest, EraseSessionCascadesToItsRowsOnly) {
  {
    auto s = open();
    for (std::string c : {"a", "b"}) {
      s->put_session({c, std::nullopt, 60, std::nullopt, 0});
      s->put_subscription({c, "t/#", 1, 0});
      s->put_delivery({c, 1, bytes("m"), {}, std::nullopt, 0, false});
      s->put_delivery({c, 2, bytes("m"), {}, std::nullopt, 3, false});
      s->put_incoming({c, 4, bytes("m"), std::nullopt});
      s->put_will({c, bytes("w"), t0, std::nullopt});
    }
    s->put_retained({"t/1", bytes("r"), std::nullopt});
    s->erase_session("a");
  }
  const auto snap = reopen_and_load();
  auto only_b = [](const auto& v) {
    return !v.empty() &&
           std::all_of(v.begin(), v.end(), [](const auto& r) { return r.client_id == "b"; });
  };
  EXPECT_TRUE(only_b(snap.sessions));
  EXPECT_TRUE(only_b(snap.subscriptions));
  EXPECT_TRUE(only_b(snap.deliveries));
  EXPECT_EQ(snap.deliveries.size(), 2u);
  EXPECT_TRUE(only_b(snap.incoming));
  EXPECT_TRUE(only_b(snap.wills));
  EXPECT_EQ(snap.retained.size(), 1u);  // retained messages belong to no session
}

TEST_F(StoreTest, DeliveriesComeBackOrderedByClientThenUnsignedSeq) {
  std::vector<std::pair<std::string, std::uint64_t>> keys;
  for (std::string c : {"b", "a", "c", "a0"})
    for (std::uint64_t seq : {5ull, 1ull, (1ull << 63) + 1, 1000ull, 2ull, ~0ull, 1ull << 62})
      keys.emplace_back(c, seq);
  std::shuffle(keys.begin(), keys.end(), std::mt19937(7));
  {
    auto s = open();
    for (std::string c : {"b", "a", "c", "a0"})
      s->put_session({c, std::nullopt, 60, std::nullopt, 0});
    for (auto& [c, seq] : keys)
      s->put_delivery({c, seq, payload_for(seq), {}, std::nullopt, 0, false});
  }
  const auto snap = reopen_and_load();
  std::sort(keys.begin(), keys.end());
  ASSERT_EQ(snap.deliveries.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(snap.deliveries[i].client_id, keys[i].first) << i;
    EXPECT_EQ(snap.deliveries[i].seq, keys[i].second) << i;
    EXPECT_EQ(snap.deliveries[i].publish, payload_for(keys[i].second)) << i;
  }
}

TEST_F(StoreTest, LoadPurgesExpiredEntriesFromTheFile) {
  const auto now = t0;
  const auto past = now - 1s;
  const auto future = now + 1h;
  {
    auto s = open();
    // "gone" expired while offline: it and all its rows go.
    s->put_session({"gone", std::nullopt, 10, past, 3});
    s->put_subscription({"gone", "x", 1, 0});
    s->put_delivery({"gone", 1, bytes("m"), {}, std::nullopt, 0, false});
    s->put_incoming({"gone", 1, bytes("m"), std::nullopt});
    s->put_will({"gone", bytes("last words"), past - 1s, std::nullopt});
    s->put_session({"kept", std::nullopt, 7200, future, 0});
    s->put_session({"forever", std::nullopt, 0xFFFFFFFF, std::nullopt, 0});
    s->put_session({"boundary", std::nullopt, 1, now, 0});  // expires_at == now: not yet < now
    s->put_delivery({"kept", 1, bytes("expired, queued"), {}, past, 0, false});
    s->put_delivery({"kept", 2, bytes("expired, in flight"), {}, past, 12, false});
    s->put_delivery({"kept", 3, bytes("expired, released"), {}, past, 13, true});
    s->put_delivery({"kept", 4, bytes("fresh"), {}, future, 0, false});
    s->put_delivery({"kept", 5, bytes("no expiry"), {}, std::nullopt, 0, false});
    s->put_incoming({"kept", 1, bytes("expired"), past});
    s->put_incoming({"kept", 2, bytes("fresh"), future});
    s->put_retained({"r/expired", bytes("r"), past});
    s->put_retained({"r/fresh", bytes("r"), future});
    s->put_retained({"r/forever", bytes("r"), std::nullopt});
    s->put_will({"kept", bytes("expired will"), future, past});
    s->put_will({"forever", bytes("will"), future, future});
    // Rows of a session that was never stored (the broker would not restore them).
    s->put_subscription({"orphan", "x", 1, 0});
    s->put_delivery({"orphan", 1, bytes("m"), {}, std::nullopt, 0, false});
    s->put_incoming({"orphan", 1, bytes("m"), std::nullopt});
    s->put_will({"orphan", bytes("w"), future, std::nullopt});
  }
  auto check = [](const snapshot& snap) {
    std::set<std::string> sessions;
    for (auto& r : snap.sessions) sessions.insert(r.client_id);
    EXPECT_EQ(sessions, (std::set<std::string>{"boundary", "forever", "kept"}));
    EXPECT_TRUE(snap.subscriptions.empty());
    std::vector<std::uint64_t> seqs;
    for (auto& d : snap.deliveries) {
      EXPECT_EQ(d.client_id, "kept");
      seqs.push_back(d.seq);
    }
    EXPECT_EQ(seqs, (std::vector<std::uint64_t>{2, 3, 4, 5}));  // [MQTT-3.3.2-5]
    ASSERT_EQ(snap.incoming.size(), 1u);
    EXPECT_EQ(snap.incoming[0].packet_id, 2);
    std::set<std::string> topics;
    for (auto& r : snap.retained) topics.insert(r.topic);
    EXPECT_EQ(topics, (std::set<std::string>{"r/fresh", "r/forever"}));
    std::set<std::string> wills;
    for (auto& w : snap.wills) wills.insert(w.client_id);
    EXPECT_EQ(wills, (std::set<std::string>{"forever"}));
  };
  check(reopen_and_load(now));
  // The purge reached the file: loading "earlier" does not bring anything back.
  check(reopen_and_load(now - 24h));
}

std::string policy_name(const ::testing::TestParamInfo<sync_policy>& p) {
  return std::string(natter::store::to_string(p.param));
}

// From inside the callback, a second, read-only connection sees every row queued before it.
class DurablePolicyTest : public StoreTest, public ::testing::WithParamInterface<sync_policy> {};

TEST_P(DurablePolicyTest, AfterDurableRunsOnlyOnceTheOpsAreCommitted) {
  auto s = open(GetParam());
  std::vector<std::int64_t> seen;      // rows visible from each callback
  std::vector<std::int64_t> expected;  // rows queued before each callback
  std::mutex mu;
  std::int64_t queued = 0;
  std::mt19937 rng(42);
  for (int round = 0; round < 40; ++round) {
    const int n = static_cast<int>(rng() % 50);
    for (int i = 0; i < n; ++i, ++queued)
      s->put_delivery({"c",
                       static_cast<std::uint64_t>(queued),
                       payload_for(queued),
                       {},
                       std::nullopt,
                       0,
                       false});
    expected.push_back(queued);
    s->after_durable([&] {
      const auto rows = count_rows("delivery");
      std::lock_guard lk(mu);
      seen.push_back(rows);
    });
    if (round % 7 == 0) std::this_thread::sleep_for(1ms);  // some rounds get their own group
  }
  ASSERT_TRUE(s->flush());
  std::lock_guard lk(mu);
  ASSERT_EQ(seen.size(), expected.size());
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_GE(seen[i], expected[i]) << "callback " << i;
}

TEST_P(DurablePolicyTest, CallbacksRunInOrderThroughTheDeferrer) {
  test_executor ex;
  std::vector<int> ran;  // touched only on the executor's thread
  std::promise<void> done;
  {
    auto s = open(GetParam(), ex.deferrer());
    constexpr int n = 3000;
    for (int i = 0; i < n; ++i) {
      if (i % 3 != 0)
        s->put_delivery(
            {"c", static_cast<std::uint64_t>(i), payload_for(i), {}, std::nullopt, 0, false});
      if (i % 5 == 0) s->set_delivery_state("c", static_cast<std::uint64_t>(i - 1), 1, false);
      s->after_durable([&ran, i] { ran.push_back(i); });
      if (i % 500 == 0) std::this_thread::sleep_for(2ms);
    }
    s->after_durable([&] { done.set_value(); });
    ASSERT_EQ(done.get_future().wait_for(30s), std::future_status::ready);
    const auto st = s->stats();
    EXPECT_EQ(st.callbacks_run, n + 1u);
    // One post per group (two when callbacks precede the group's first op), not one per
    // callback.
    EXPECT_LE(ex.posts(), 2 * st.commits + 1);
    EXPECT_LT(ex.posts(), static_cast<std::size_t>(n));
  }
  ASSERT_EQ(ran.size(), 3000u);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(ran[i], i);
}

INSTANTIATE_TEST_SUITE_P(Policies, DurablePolicyTest,
                         ::testing::Values(sync_policy::always, sync_policy::batch,
                                           sync_policy::none),
                         policy_name);

TEST_F(StoreTest, BatchPolicyGroupsManyOpsIntoFewCommits) {
  auto s = open(sync_policy::batch);
  std::atomic<int> acked{0};
  for (int i = 0; i < 1000; ++i) {
    s->put_delivery(
        {"c", static_cast<std::uint64_t>(i), payload_for(i), {}, std::nullopt, 0, false});
    s->after_durable([&] { acked.fetch_add(1); });
  }
  ASSERT_TRUE(s->flush());
  EXPECT_EQ(acked.load(), 1000);
  const auto st = s->stats();
  EXPECT_EQ(st.ops_applied, 1000u);
  EXPECT_EQ(st.callbacks_run, 1000u);
  EXPECT_LT(st.commits, 50u) << "group commit did not group";
  EXPECT_GT(st.max_group_ops, 20u);
  EXPECT_EQ(count_rows("delivery"), 1000);
}

TEST_F(StoreTest, AlwaysPolicyGroupsOpsThatArriveDuringACommit) {
  auto s = open(sync_policy::always);
  for (int i = 0; i < 1000; ++i) {
    s->put_delivery(
        {"c", static_cast<std::uint64_t>(i), payload_for(i), {}, std::nullopt, 0, false});
    s->after_durable([] {});
  }
  ASSERT_TRUE(s->flush());
  const auto st = s->stats();
  EXPECT_EQ(st.ops_applied, 1000u);
  EXPECT_LT(st.commits, 1000u);
}

TEST_F(StoreTest, GroupsAreCutAtMaxGroupOpsBetweenEvents) {
  sqlite_store_options o;
  o.max_group_ops = 100;
  o.batch_window = 50ms;
  auto s = open(sync_policy::batch, {}, o);
  for (int i = 0; i < 1000; ++i) {
    s->put_delivery(
        {"c", static_cast<std::uint64_t>(i), payload_for(i), {}, std::nullopt, 0, false});
    s->after_durable(nullptr);
  }
  ASSERT_TRUE(s->flush());
  const auto st = s->stats();
  EXPECT_EQ(st.ops_applied, 1000u);
  EXPECT_EQ(st.max_group_ops, 100u);
  EXPECT_GE(st.commits, 10u);
  EXPECT_EQ(st.callbacks_run, 0u);  // null callbacks only mark the events' ends
}

// store.hpp: the ops between two after_durable() calls commit together, never split, even
// when the strand queues them slowly or they exceed max_group_ops. A reader polling the
// file must only ever see whole events (each adds `per_event` rows).
TEST_P(DurablePolicyTest, EventsAreNeverSplitAcrossTransactions) {
  sqlite_store_options o;
  o.max_group_ops = 5;  // smaller than an event
  auto s = open(GetParam(), {}, o);
  constexpr int events = 60, per_event = 7;
  std::atomic<bool> done{false};
  std::vector<std::int64_t> seen;
  std::thread reader([&] {
    while (!done) {
      seen.push_back(count_rows("delivery"));
      std::this_thread::sleep_for(200us);
    }
  });
  std::uint64_t seq = 0;
  for (int e = 0; e < events; ++e) {
    for (int k = 0; k < per_event; ++k) {
      s->put_delivery({"c", seq, payload_for(seq), {}, std::nullopt, 0, false});
      ++seq;
      // A slow event: gaps shorter than idle_commit_delay must not end it.
      if (e % 10 == 0) std::this_thread::sleep_for(300us);
    }
    s->after_durable(nullptr);
  }
  ASSERT_TRUE(s->flush());
  done = true;
  reader.join();
  EXPECT_EQ(count_rows("delivery"), events * per_event);
  for (auto n : seen) ASSERT_EQ(n % per_event, 0) << "a reader saw part of an event: " << n;
  EXPECT_FALSE(seen.empty());
  EXPECT_GE(s->stats().max_group_ops, static_cast<std::uint64_t>(per_event));
}

// Ops no after_durable() follows are committed anyway once the strand goes quiet.
TEST_P(DurablePolicyTest, OpsWithoutAfterDurableAreCommittedWhenIdle) {
  auto s = open(GetParam());
  s->put_retained({"t", bytes("r"), std::nullopt});
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (count_rows("retained") != 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(count_rows("retained"), 1);
  EXPECT_EQ(s->stats().commits, 1u);
}

TEST_F(StoreTest, CallbackWithNothingQueuedNeedsNoCommit) {
  auto s = open(sync_policy::batch);
  std::promise<void> ran;
  s->after_durable([&] { ran.set_value(); });
  ASSERT_EQ(ran.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_EQ(s->stats().commits, 0u);
}

TEST_F(StoreTest, StopCommitsWhatIsQueuedAndRunsItsCallbacks) {
  std::atomic<bool> ran{false};
  {
    auto s = open(sync_policy::batch);
    s->put_session({"c", std::nullopt, 60, std::nullopt, 0});
    for (int i = 0; i < 500; ++i)
      s->put_delivery(
          {"c", static_cast<std::uint64_t>(i), payload_for(i), {}, std::nullopt, 0, false});
    s->after_durable([&] { ran = true; });
    s->stop();
    EXPECT_TRUE(ran);
    s->put_delivery({"c", 9999, {}, {}, std::nullopt, 0, false});  // ignored after stop()
    s->stop();                                                     // idempotent
  }
  EXPECT_EQ(reopen_and_load().deliveries.size(), 500u);
}

TEST_F(StoreTest, StatsCountCommitsAndTheirTimes) {
  auto s = open(sync_policy::always);
  for (int i = 0; i < 20; ++i) {
    s->put_session({"c" + std::to_string(i), std::nullopt, 0, std::nullopt, 0});
    s->after_durable(nullptr);
    ASSERT_TRUE(s->flush());  // one commit each
  }
  const auto st = s->stats();
  EXPECT_EQ(st.ops_applied, 20u);
  EXPECT_EQ(st.commits, 20u);
  EXPECT_EQ(st.max_group_ops, 1u);
  EXPECT_GT(st.commit_time_total.count(), 0);
  EXPECT_GE(st.commit_time_total, st.commit_time_max);
  EXPECT_GE(st.transaction_time_total, st.commit_time_total);
  EXPECT_EQ(std::accumulate(st.commit_time_histogram.begin(), st.commit_time_histogram.end(),
                            std::uint64_t{0}),
            20u);
  EXPECT_EQ(st.queued, 0u);
  EXPECT_FALSE(st.failed);
}

// A transaction that cannot commit stops the store: no callback after it runs, so nothing
// is acknowledged that is not on disk.
TEST_F(StoreTest, FailedTransactionStopsTheStoreWithoutRunningCallbacks) {
  std::promise<std::string> error;
  sqlite_store_options o;
  o.busy_timeout = 50ms;
  o.on_error = [&](const std::string& what) { error.set_value(what); };
  o.batch_window = 20ms;  // the op, its callback and flush()'s marker form one group
  auto s = open(sync_policy::batch, {}, o);
  s->put_session({"before", std::nullopt, 0, std::nullopt, 0});
  ASSERT_TRUE(s->flush());

  sqlite3* other = raw();  // another writer holds the write lock
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::atomic<bool> ran{false};
  s->put_session({"during", std::nullopt, 0, std::nullopt, 0});
  s->after_durable([&] { ran = true; });
  EXPECT_FALSE(s->flush());  // returns (does not hang) though its group failed
  auto f = error.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  const auto what = f.get();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("locked"), std::string::npos) << what;
  EXPECT_FALSE(ran);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);

  s->put_session({"after", std::nullopt, 0, std::nullopt, 0});
  s->after_durable([&] { ran = true; });
  EXPECT_FALSE(s->flush());
  EXPECT_FALSE(ran);
  const auto st = s->stats();
  EXPECT_TRUE(st.failed);
  EXPECT_EQ(st.ops_dropped, 2u);  // the failed transaction's op, and the one after
  EXPECT_THROW(s->load(wall_clock::now()), std::runtime_error);
  s.reset();
  const auto snap = reopen_and_load();
  ASSERT_EQ(snap.sessions.size(), 1u);
  EXPECT_EQ(snap.sessions[0].client_id, "before");
}

// --- files that must be refused -------------------------------------------------------

void fill_store(const fs::path& path, int n) {
  sqlite_store s(path, sync_policy::none, {});
  for (int i = 0; i < n; ++i)
    s.put_delivery({"client-" + std::to_string(i % 10),
                    static_cast<std::uint64_t>(i),
                    std::vector<std::uint8_t>(300, static_cast<std::uint8_t>(i)),
                    {1},
                    std::nullopt,
                    0,
                    false});
}

TEST_F(StoreTest, GarbageInTheMiddleIsRefusedNamingTheFile) {
  fill_store(path_, 3000);
  ASSERT_FALSE(fs::exists(path_.string() + "-wal"));  // checkpointed at close
  const auto size = fs::file_size(path_);
  ASSERT_GT(size, 16u * 4096u);
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2 / 4096 * 4096));
    std::mt19937 rng(1);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>(rng()));
  }
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
  EXPECT_NE(what.find("aside"), std::string::npos) << what;
}

TEST_F(StoreTest, TruncatedFileIsRefusedNamingTheFile) {
  fill_store(path_, 3000);
  fs::resize_file(path_, fs::file_size(path_) / 2);
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
}

TEST_F(StoreTest, TornPageIsRefused) {
  fill_store(path_, 3000);
  const auto size = fs::file_size(path_);
  {  // the second half of one page zeroed, as a torn write would leave it
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 3 / 4096 * 4096 + 2048));
    for (int i = 0; i < 2048; ++i) f.put('\0');
  }
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("corrupt"), std::string::npos) << what;
}

TEST_F(StoreTest, FileThatIsNotADatabaseIsRefusedNamingTheFile) {
  {
    std::ofstream f(path_);
    for (int i = 0; i < 200; ++i) f << "listener 1883\nallow_anonymous true\n";
  }
  const auto size = fs::file_size(path_);
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("not an SQLite database"), std::string::npos) << what;
  // Refused without being touched.
  EXPECT_EQ(fs::file_size(path_), size);
}

TEST_F(StoreTest, OtherSqliteDatabaseIsRefused) {
  sqlite3* db = raw(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE accounts (id INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("not a natter store"), std::string::npos) << what;
}

TEST_F(StoreTest, NewerSchemaIsRefused) {
  open();
  sqlite3* db = raw();
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
  EXPECT_NE(what.find("newer natter"), std::string::npos) << what;
}

TEST_F(StoreTest, MissingDirectoryIsReportedNamingTheFile) {
  path_ = dir_ / "no-such-dir" / "natter.db";
  const auto what = open_error();
  EXPECT_NE(what.find(path_.string()), std::string::npos) << what;
}

TEST_F(StoreTest, EmptyFileBecomesANewStore) {
  std::ofstream(path_).close();
  auto s = open();
  s->put_retained({"t", bytes("r"), std::nullopt});
  s.reset();
  EXPECT_EQ(reopen_and_load().retained.size(), 1u);
}

// --- crash recovery --------------------------------------------------------------------

// The child writes deliveries as fast as the store takes them, and reports each one its
// after_durable callback acknowledges on a pipe; the parent kills it with SIGKILL at a
// random moment. Every acknowledged delivery must be in the file afterwards, and what is
// there must be a prefix of what was written, in whole events (each commits whole, in order).
[[noreturn]] void crash_child(const fs::path& path, sync_policy policy, int out) {
  try {
    sqlite_store s(path, policy, {});
    s.put_session({"c", std::nullopt, 0xFFFFFFFF, std::nullopt, 0});
    std::atomic<std::uint64_t> acked{0};
    for (std::uint64_t i = 0;; ++i) {
      // One event: the delivery, sometimes its state change, then the acknowledgement.
      s.put_delivery(
          {"c", i, payload_for(i), {static_cast<std::uint32_t>(i)}, std::nullopt, 0, false});
      if (i % 10 == 3)
        s.set_delivery_state("c", i, static_cast<std::uint16_t>(i % 65535 + 1), false);
      s.after_durable([&acked, out, i] {
        const auto line = std::to_string(i) + "\n";
        if (::write(out, line.data(), line.size()) != static_cast<ssize_t>(line.size())) ::_exit(4);
        acked = i + 1;
      });
      while (i > acked + 2000) std::this_thread::sleep_for(100us);  // bound the queue
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "crash child: %s\n", e.what());
  }
  ::_exit(3);
}

class CrashTest : public StoreTest, public ::testing::WithParamInterface<sync_policy> {};

TEST_P(CrashTest, EveryAcknowledgedDeliverySurvivesSigkill) {
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed() +
                   static_cast<unsigned>(GetParam()));
  std::uint64_t total_acked = 0;
  std::string rounds;  // "acknowledged/recovered" per round, in the XML report
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      crash_child(path_, GetParam(), fds[1]);
    }
    ::close(fds[1]);

    // Kill after a random number of acknowledgements (even rounds), or a random time after
    // the first one (odd rounds), or (round 1) a random time after fork: during start-up,
    // maybe inside the schema's creation.
    using std::chrono::steady_clock;
    const std::uint64_t kill_after = 1 + rng() % 3000;
    const auto delay = std::chrono::microseconds(rng() % (round == 1 ? 5000 : 30000));
    std::optional<steady_clock::time_point> deadline;
    if (round == 1) deadline = steady_clock::now() + delay;
    std::string text;
    std::uint64_t lines = 0;
    char buf[4096];
    for (;;) {
      if (round % 2 == 0 && lines >= kill_after) break;
      if (round % 2 == 1 && !deadline && lines > 0) deadline = steady_clock::now() + delay;
      if (deadline && steady_clock::now() >= *deadline) break;
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 1) <= 0) continue;
      const auto n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // the child died on its own: the checks below will say why
      text.append(buf, static_cast<std::size_t>(n));
      lines = static_cast<std::uint64_t>(std::count(text.begin(), text.end(), '\n'));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
    // What the child acknowledged before dying is still in the pipe.
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);

    std::vector<std::uint64_t> acked;
    for (std::size_t pos = 0, nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1)
      acked.push_back(std::stoull(text.substr(pos, nl - pos)));
    for (std::size_t i = 0; i < acked.size(); ++i) ASSERT_EQ(acked[i], i) << "acks out of order";

    snapshot snap;
    ASSERT_NO_THROW(snap = reopen_and_load()) << "store refused after SIGKILL";
    const auto& d = snap.deliveries;
    EXPECT_GE(d.size(), acked.size()) << "acknowledged deliveries lost";
    for (std::size_t i = 0; i < d.size(); ++i) {
      ASSERT_EQ(d[i].seq, i) << "not a prefix";
      ASSERT_EQ(d[i].publish, payload_for(i));
      ASSERT_EQ(d[i].subscription_ids, std::vector<std::uint32_t>{static_cast<std::uint32_t>(i)});
      // The state change is in i's event, which commits whole, acknowledged or not.
      if (i % 10 == 3) {
        ASSERT_EQ(d[i].packet_id, i % 65535 + 1);
      }
    }
    total_acked += acked.size();
    rounds += std::to_string(acked.size()) + "/" + std::to_string(d.size()) + " ";
    fs::remove(path_);
    fs::remove(path_.string() + "-wal");
    fs::remove(path_.string() + "-shm");
  }
  RecordProperty("acked", static_cast<int>(total_acked));
  RecordProperty("rounds", rounds);
  EXPECT_GT(total_acked, 0u) << "the child never acknowledged anything: the test tested nothing";
}

INSTANTIATE_TEST_SUITE_P(Policies, CrashTest,
                         ::testing::Values(sync_policy::always, sync_policy::batch,
                                           sync_policy::none),
                         policy_name);

}  // namespace

// --- chat_store (server/chat's history) ---

namespace {
natter::store::chat_message_record chat_msg(std::uint64_t id, std::string from, std::string to) {
  return {id, from, to, "c" + std::to_string(id), 1000 + static_cast<std::int64_t>(id),
          "body " + std::to_string(id) + std::string(1, '\0') + "binary"};
}

// Runs an asynchronous read and waits for its answer (delivered on the writer thread: no
// deferrer).
template <class Result, class Start>
Result await_read(Start&& start) {
  std::promise<Result> p;
  auto f = p.get_future();
  start([&](Result r) { p.set_value(std::move(r)); });
  return f.get();
}
}  // namespace

TEST_F(StoreTest, ChatHistoryPagesNewestFirstPerConversation) {
  auto s = open();
  // alice<->bob: 1, 2, 4, 5, 7; alice<->carol: 3, 6; bob->bob (note to self): 8.
  for (auto [id, from, to] : std::vector<std::tuple<int, const char*, const char*>>{
           {1, "alice", "bob"}, {2, "bob", "alice"}, {3, "carol", "alice"}, {4, "alice", "bob"},
           {5, "alice", "bob"}, {6, "alice", "carol"}, {7, "bob", "alice"}, {8, "bob", "bob"}})
    s->put_chat_message(chat_msg(static_cast<std::uint64_t>(id), from, to));
  auto ids = [](const natter::store::chat_history_page& p) {
    std::vector<std::uint64_t> out;
    for (const auto& m : p.messages) out.push_back(m.id);
    return out;
  };
  using page = natter::store::chat_history_page;
  auto p1 = await_read<page>([&](auto done) { s->read_history({"bob", "alice", 0, 3}, done); });
  EXPECT_EQ(ids(p1), (std::vector<std::uint64_t>{7, 5, 4}));
  EXPECT_TRUE(p1.has_more);
  EXPECT_EQ(p1.messages[0].body, chat_msg(7, "bob", "alice").body);  // binary-safe
  EXPECT_EQ(p1.messages[0].sender, "bob");
  auto p2 = await_read<page>([&](auto done) { s->read_history({"alice", "bob", 4, 3}, done); });
  EXPECT_EQ(ids(p2), (std::vector<std::uint64_t>{2, 1}));
  EXPECT_FALSE(p2.has_more);
  auto self = await_read<page>([&](auto done) { s->read_history({"bob", "bob", 0, 50}, done); });
  EXPECT_EQ(ids(self), (std::vector<std::uint64_t>{8}));
  auto none = await_read<page>([&](auto done) { s->read_history({"dave", "alice", 0, 50}, done); });
  EXPECT_TRUE(none.messages.empty());

  using list = std::vector<natter::store::chat_conversation>;
  auto convs = await_read<list>(
      [&](auto done) { s->read_conversations("alice", {{"bob", 2}}, done); });
  ASSERT_EQ(convs.size(), 2u);
  EXPECT_EQ(convs[0].peer, "bob");  // most recent (7) first
  EXPECT_EQ(convs[0].last.id, 7u);
  EXPECT_EQ(convs[0].unread, 1u);  // 7 from bob above the mark 2
  EXPECT_EQ(convs[1].peer, "carol");
  EXPECT_EQ(convs[1].unread, 1u);  // 3, nothing read
}

TEST_F(StoreTest, ChatStateSurvivesReopenAndReceiptsOnlyRise) {
  {
    auto s = open();
    for (std::uint64_t id = 1; id <= 5; ++id) s->put_chat_message(chat_msg(id, "alice", "bob"));
    s->put_chat_receipt({"bob", "alice", natter::store::receipt_kind::read, 4});
    s->put_chat_receipt({"bob", "alice", natter::store::receipt_kind::read, 2});
    s->put_chat_receipt({"bob", "alice", natter::store::receipt_kind::delivered, 5});
  }
  auto snap = open()->load_chat(2);
  EXPECT_EQ(snap.max_id, 5u);
  ASSERT_EQ(snap.recent.size(), 2u);
  EXPECT_EQ(snap.recent[0].id, 5u);  // newest first
  EXPECT_EQ(snap.recent[0].client_msg_id, "c5");
  ASSERT_EQ(snap.receipts.size(), 2u);
  for (const auto& r : snap.receipts)
    EXPECT_EQ(r.up_to, r.kind == natter::store::receipt_kind::read ? 4u : 5u);
}

TEST_F(StoreTest, VersionOneFileGainsTheChatTables) {
  open()->put_retained({"kept", payload_for(1), std::nullopt});
  sqlite3* db = raw();
  ASSERT_EQ(sqlite3_exec(db, "DROP TABLE chat_message; DROP TABLE chat_receipt; "
                             "PRAGMA user_version = 1",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = open();
  EXPECT_EQ(s->load(wall_clock::now()).retained.size(), 1u);
  s->put_chat_message(chat_msg(1, "alice", "bob"));
  EXPECT_EQ(s->load_chat(10).max_id, 1u);
  EXPECT_EQ(count_rows("chat_message"), 1);
}
