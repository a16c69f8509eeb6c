// The embedded durable store: one SQLite database file in WAL mode (STYLE.md: server/store).
//
// Threading: the mutators (store interface) run on the caller's strand and only copy their
// record into a queue under a mutex; they never touch the file. One writer thread owns the
// SQLite connection. It takes everything queued up to the last after_durable() (each
// after_durable() ends one broker event: store.hpp's atomicity rule), applies it in ONE
// transaction with cached prepared statements and commits (group commit: one fsync serves
// every event that arrived meanwhile), then hands the after_durable() callbacks of those
// events to the deferrer, in order, as one closure per group. Ops after the last
// after_durable() belong to an event still being queued: the writer waits for its
// after_durable(), or commits them once no op has arrived for idle_commit_delay.
//
// Sync policies (what "durable" means when an after_durable callback runs):
//   always  synchronous=FULL; commit as soon as there is work. Ops that arrive during a
//           commit form the next group. Survives process and OS crashes / power loss.
//   batch   synchronous=FULL, but wait up to batch_window (2 ms) after the first queued op
//           to gather a bigger group. Same guarantee as `always`; more latency, fewer fsyncs.
//   none    synchronous=OFF: callbacks run once the transaction is in the WAL file, without
//           fsync. Survives a crash of the process (the data is in the OS page cache), NOT
//           an OS crash or power loss: acknowledged messages may then be lost, and the file
//           may even be damaged (checkpoints are not synced either); it is then refused at
//           start-up with a message saying so.
// (always/batch assume the disk honours fsync, as SQLite does.)
//
// The queue is not bounded here: the broker's flow control (Receive Maximum, bounded
// outboxes) bounds the ops in flight. Callbacks and the deferrer must not throw.
//
// Failure: if a transaction fails (disk full, I/O error, lock timeout), the store stops:
// that group is rolled back, later work is discarded, no further callback runs (so nothing
// is acknowledged that is not durable), and options.on_error reports it once, through the
// deferrer. The broker should log it and shut down; restart recovers the last commit.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "store/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace natter::store {

enum class sync_policy { always, batch, none };

// "always" | "batch" | "none" (the configuration file's words).
std::optional<sync_policy> parse_sync_policy(std::string_view s);
std::string_view to_string(sync_policy p);

// Runs a callback on the caller's strand, e.g. [&](auto f) { asio::post(strand, std::move(f)); }.
// Empty: callbacks run on the writer thread.
using deferrer = std::function<void(std::function<void()>)>;

// How thoroughly the file is checked at open. `automatic`: integrity_check up to
// full_check_max_bytes, quick_check above (both read the whole file; quick_check skips
// index/table cross-checks).
enum class open_check { automatic, quick, full, none };

struct sqlite_store_options {
  std::chrono::microseconds batch_window{2000};  // sync_policy::batch only
  // Bounds a transaction: a group is cut at the first after_durable() past this many ops
  // (never inside an event).
  std::size_t max_group_ops = 10000;
  // Ops not followed by an after_durable() are committed after this long without new ops.
  // A safety net, not a timer to rely on: the broker ends every event with after_durable(),
  // so trailing ops are an event still being queued, and committing them would split it
  // (store.hpp's atomicity). Long enough that a strand preempted mid-event is not split.
  std::chrono::microseconds idle_commit_delay{50000};
  open_check check = open_check::automatic;
  std::uint64_t full_check_max_bytes = 64u << 20;
  std::chrono::milliseconds busy_timeout{5000};  // another process holding the write lock
  // Called once (through the deferrer) when the store fails and stops; see the header comment.
  std::function<void(const std::string& what)> on_error;
};

// Upper bounds of the latency histograms in sqlite_store_stats (for /metrics): 50 us to 1 s;
// each histogram has one more bucket, for everything slower.
inline constexpr std::array<std::chrono::microseconds, 14> latency_bucket_bounds{
    std::chrono::microseconds{50},     std::chrono::microseconds{100},
    std::chrono::microseconds{250},    std::chrono::microseconds{500},
    std::chrono::microseconds{1000},   std::chrono::microseconds{2500},
    std::chrono::microseconds{5000},   std::chrono::microseconds{10000},
    std::chrono::microseconds{25000},  std::chrono::microseconds{50000},
    std::chrono::microseconds{100000}, std::chrono::microseconds{250000},
    std::chrono::microseconds{500000}, std::chrono::microseconds{1000000}};
using latency_histogram = std::array<std::uint64_t, latency_bucket_bounds.size() + 1>;

struct sqlite_store_stats {
  std::uint64_t ops_applied = 0;    // mutations committed
  std::uint64_t ops_dropped = 0;    // mutations discarded after a failure
  std::uint64_t callbacks_run = 0;  // after_durable callbacks handed to the deferrer
  std::uint64_t commits = 0;        // transactions committed (with sync: one fsync each)
  std::uint64_t max_group_ops = 0;  // largest number of mutations in one commit
  std::uint64_t queued = 0;         // ops and callbacks waiting now
  // COMMIT alone: where the WAL is written and fsynced.
  std::chrono::nanoseconds commit_time_total{0};
  std::chrono::nanoseconds commit_time_max{0};
  // Whole transaction: BEGIN, every statement, COMMIT.
  std::chrono::nanoseconds transaction_time_total{0};
  std::chrono::nanoseconds transaction_time_max{0};
  // Commits by COMMIT time: <100us, <1ms, <10ms, <100ms, <1s, >=1s.
  std::array<std::uint64_t, 6> commit_time_histogram{};
  // The same two times, per latency_bucket_bounds (not cumulative).
  latency_histogram commit_time_buckets{};
  latency_histogram transaction_time_buckets{};
  bool failed = false;
};

class sqlite_store final : public store, public chat_store {
 public:
  // Opens (creating if missing) the database at `path`, checks it, creates or validates the
  // schema and starts the writer thread. Throws std::runtime_error naming the file when it
  // cannot be opened, is not a natter store, is corrupt, or has a newer schema.
  sqlite_store(std::filesystem::path path, sync_policy sync, deferrer defer,
               sqlite_store_options options = {});
  ~sqlite_store() override;  // stop()

  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

  // Everything stored, after deleting (from the file too): sessions whose expires_at < now;
  // subscriptions, deliveries, incoming messages and wills whose session is not stored
  // (those of the expired sessions, and orphans the broker would not restore); incoming,
  // retained messages and wills whose own expires_at < now; and queued (packet_id 0)
  // deliveries whose expires_at < now ([MQTT-3.3.2-5] spares those already in flight).
  // Blocks until queued work is done: call at start-up, not from the deferrer's strand.
  snapshot load(wall_clock::time_point now);

  // Blocks until everything queued before it is committed (callbacks handed to the
  // deferrer; an unfinished event's ops after idle_commit_delay). Returns false if the
  // store has failed. Not from the deferrer's strand.
  bool flush();

  // Commits what is queued, hands its callbacks to the deferrer and joins the writer
  // thread. Later mutators and callbacks are ignored. Idempotent.
  void stop();

  sqlite_store_stats stats() const;
  const std::filesystem::path& path() const { return path_; }
  sync_policy policy() const { return policy_; }

  void put_session(const session_record& s) override;
  void erase_session(const std::string& client_id) override;
  void put_subscription(const subscription_record& s) override;
  void erase_subscription(const std::string& client_id, const std::string& filter) override;
  void put_delivery(const delivery_record& d) override;
  void set_delivery_state(const std::string& client_id, std::uint64_t seq, std::uint16_t packet_id,
                          bool released) override;
  void erase_delivery(const std::string& client_id, std::uint64_t seq) override;
  void put_incoming(const incoming_record& m) override;
  void erase_incoming(const std::string& client_id, std::uint16_t packet_id) override;
  void put_retained(const retained_record& r) override;
  void erase_retained(const std::string& topic) override;
  void put_will(const will_record& w) override;
  void erase_will(const std::string& client_id) override;
  void after_durable(std::function<void()> fn) override;

  void put_chat_message(const chat_message_record& m) override;
  void put_chat_receipt(const chat_receipt_record& r) override;
  void read_history(chat_history_query q, std::function<void(chat_history_page)> done) override;
  void read_conversations(std::string user,
                          std::unordered_map<std::string, std::uint64_t> read_up_to,
                          std::function<void(std::vector<chat_conversation>)> done) override;
  // Blocks like load(): call at start-up, not from the deferrer's strand.
  chat_snapshot load_chat(std::size_t recent) override;

 private:
  struct op;  // one queued mutation, callback or writer-thread task (defined in the .cpp)

  void open_database();
  bool enqueue(op&& o);  // false after stop(): dropped
  void writer_loop();
  void process(std::vector<op>& group);
  void apply(const op& o);
  void dispatch(std::vector<std::function<void()>>& callbacks);
  void fail(const std::string& what);
  snapshot do_load(wall_clock::time_point now);
  // Writer thread: runs `query` once the writes queued before it are committed, hands its
  // result to `done` through the deferrer.
  template <class Result, class Fn>
  void read(Fn&& query, std::function<void(Result)> done);
  template <class Row>
  void select(const char* sql, const std::function<void(sqlite3_stmt*)>& bind, Row&& row);
  void exec(const char* sql);
  void step_reset(sqlite3_stmt* st, const char* what);
  [[noreturn]] void throw_error(int rc, std::string_view what) const;

  const std::filesystem::path path_;
  const sync_policy policy_;
  const deferrer defer_;
  const sqlite_store_options options_;

  sqlite3* db_ = nullptr;             // used by the writer thread only (after the constructor)
  std::vector<sqlite3_stmt*> stmts_;  // cached prepared statements, indexed by stmt_id

  mutable std::mutex mu_;  // guards the queue and the flags below
  std::condition_variable cv_;
  std::vector<op> queue_;
  std::size_t queued_mutations_ = 0;
  std::chrono::steady_clock::time_point first_mutation_at_;
  // Index in queue_ of the last after_durable() (the end of the last complete event).
  std::size_t last_boundary_ = static_cast<std::size_t>(-1);
  std::size_t unclosed_mutations_ = 0;  // mutations queued after it
  bool waiting_for_boundary_ = false;   // the writer waits for an event to end
  std::chrono::steady_clock::time_point last_unclosed_op_at_;
  bool stopping_ = false;  // stop(): no more work accepted; the writer drains and exits
  std::atomic<bool> failed_{false};

  mutable std::mutex stats_mu_;
  sqlite_store_stats stats_;

  std::mutex join_mu_;  // stop() from two threads joins once
  std::thread writer_;
};

}  // namespace natter::store
