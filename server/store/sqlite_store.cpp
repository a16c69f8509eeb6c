// sqlite_store: the SQLite implementation of store (see sqlite_store.hpp for the threading
// model, the sync policies and the failure rule).
//
// File layout: one table per record type, STRICT so a bug cannot smuggle a TEXT into an
// INTEGER column. PRAGMA application_id marks the file as natter's, PRAGMA user_version is
// the schema version. Times are nanoseconds since the Unix epoch (exact round trip of
// system_clock on Linux); seq is the uint64 stored as its int64 bit pattern. Deleting a
// session deletes its rows explicitly in the same transaction. No foreign keys: a row whose
// session is not stored would fail its whole group (and stop the store); load() drops
// such orphans instead.
#include "store/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <limits>
#include <memory>
#include <span>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

namespace natter::store {

namespace {

// Bumped whenever the tables change. A file with a higher number was written by a newer
// natter: this build would misread it, or damage it by writing rows in the old shape.
constexpr int schema_version = 2;
// "NATT": tells our file from other SQLite databases (and `file natter.db` shows it).
constexpr std::int32_t natter_application_id = 0x4e415454;

constexpr const char* schema_sql = R"sql(
CREATE TABLE session (
  client_id        TEXT NOT NULL PRIMARY KEY,
  username         TEXT,
  expiry_interval  INTEGER NOT NULL,
  expires_at       INTEGER,            -- ns since the Unix epoch; NULL: does not expire now
  last_packet_id   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE subscription (
  client_id        TEXT NOT NULL,
  filter           TEXT NOT NULL,
  options          INTEGER NOT NULL,   -- Subscription Options byte
  subscription_id  INTEGER NOT NULL,
  PRIMARY KEY (client_id, filter)
) STRICT, WITHOUT ROWID;
CREATE TABLE delivery (
  client_id        TEXT NOT NULL,
  seq              INTEGER NOT NULL,   -- uint64 bit pattern
  publish          BLOB NOT NULL,      -- encoded v5 PUBLISH
  subscription_ids BLOB NOT NULL,      -- uint32 little-endian each
  expires_at       INTEGER,
  packet_id        INTEGER NOT NULL,   -- 0: queued
  released         INTEGER NOT NULL,
  PRIMARY KEY (client_id, seq)
) STRICT, WITHOUT ROWID;
CREATE TABLE incoming (
  client_id        TEXT NOT NULL,
  packet_id        INTEGER NOT NULL,
  publish          BLOB NOT NULL,
  expires_at       INTEGER,
  PRIMARY KEY (client_id, packet_id)
) STRICT;
CREATE TABLE retained (
  topic            TEXT NOT NULL PRIMARY KEY,
  publish          BLOB NOT NULL,
  expires_at       INTEGER
) STRICT;
CREATE TABLE will (
  client_id        TEXT NOT NULL PRIMARY KEY,
  publish          BLOB NOT NULL,
  fire_at          INTEGER NOT NULL,
  expires_at       INTEGER
) STRICT;
)sql";

// Version 2: the chat service's history and receipt watermarks (server/chat). A message's
// conversation is (user_a, user_b) = its two users in order, so both directions share one
// index range.
constexpr const char* chat_schema_sql = R"sql(
CREATE TABLE chat_message (
  id               INTEGER PRIMARY KEY,  -- the server message id
  sender           TEXT NOT NULL,
  recipient        TEXT NOT NULL,
  user_a           TEXT NOT NULL,        -- min(sender, recipient)
  user_b           TEXT NOT NULL,        -- max(sender, recipient)
  client_msg_id    TEXT NOT NULL,
  server_at_ms     INTEGER NOT NULL,
  body             BLOB NOT NULL         -- natter.chat.v1.ChatMessage as delivered
) STRICT;
CREATE INDEX chat_message_a ON chat_message (user_a, user_b, id);
CREATE INDEX chat_message_b ON chat_message (user_b, user_a, id);
CREATE TABLE chat_receipt (
  reader           TEXT NOT NULL,
  peer             TEXT NOT NULL,
  kind             INTEGER NOT NULL,     -- 1 delivered, 2 read
  up_to            INTEGER NOT NULL,
  PRIMARY KEY (reader, peer, kind)
) STRICT, WITHOUT ROWID;
)sql";

// The writer's cached statements; stmt_sql is indexed by these.
enum stmt_id : std::size_t {
  begin_tx,
  commit_tx,
  rollback_tx,
  put_session_st,
  erase_session_subscriptions_st,
  erase_session_deliveries_st,
  erase_session_incoming_st,
  erase_session_will_st,
  erase_session_st,
  put_subscription_st,
  erase_subscription_st,
  put_delivery_st,
  set_delivery_state_st,
  erase_delivery_st,
  put_incoming_st,
  erase_incoming_st,
  put_retained_st,
  erase_retained_st,
  put_will_st,
  erase_will_st,
  put_chat_message_st,
  put_chat_receipt_st,
  stmt_count
};

// BEGIN IMMEDIATE takes the write lock up front, so a busy database is seen (and waited
// for, busy_timeout) before any statement runs rather than as a failed COMMIT.
constexpr std::array<const char*, stmt_count> stmt_sql = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
    "INSERT INTO session (client_id, username, expiry_interval, expires_at, last_packet_id) "
    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (client_id) DO UPDATE SET "
    "username = excluded.username, expiry_interval = excluded.expiry_interval, "
    "expires_at = excluded.expires_at, last_packet_id = excluded.last_packet_id",
    "DELETE FROM subscription WHERE client_id = ?1",
    "DELETE FROM delivery WHERE client_id = ?1",
    "DELETE FROM incoming WHERE client_id = ?1",
    "DELETE FROM will WHERE client_id = ?1",
    "DELETE FROM session WHERE client_id = ?1",
    "INSERT INTO subscription (client_id, filter, options, subscription_id) "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client_id, filter) DO UPDATE SET "
    "options = excluded.options, subscription_id = excluded.subscription_id",
    "DELETE FROM subscription WHERE client_id = ?1 AND filter = ?2",
    "INSERT INTO delivery (client_id, seq, publish, subscription_ids, expires_at, packet_id, "
    "released) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (client_id, seq) DO UPDATE SET "
    "publish = excluded.publish, subscription_ids = excluded.subscription_ids, "
    "expires_at = excluded.expires_at, packet_id = excluded.packet_id, "
    "released = excluded.released",
    "UPDATE delivery SET packet_id = ?3, released = ?4 WHERE client_id = ?1 AND seq = ?2",
    "DELETE FROM delivery WHERE client_id = ?1 AND seq = ?2",
    "INSERT INTO incoming (client_id, packet_id, publish, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (client_id, packet_id) DO UPDATE SET "
    "publish = excluded.publish, expires_at = excluded.expires_at",
    "DELETE FROM incoming WHERE client_id = ?1 AND packet_id = ?2",
    "INSERT INTO retained (topic, publish, expires_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (topic) DO UPDATE SET publish = excluded.publish, expires_at = "
    "excluded.expires_at",
    "DELETE FROM retained WHERE topic = ?1",
    "INSERT INTO will (client_id, publish, fire_at, expires_at) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (client_id) DO UPDATE SET "
    "publish = excluded.publish, fire_at = excluded.fire_at, expires_at = excluded.expires_at",
    "DELETE FROM will WHERE client_id = ?1",
    "INSERT INTO chat_message (id, sender, recipient, user_a, user_b, client_msg_id, "
    "server_at_ms, body) VALUES (?1, ?2, ?3, min(?2, ?3), max(?2, ?3), ?4, ?5, ?6)",
    "INSERT INTO chat_receipt (reader, peer, kind, up_to) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (reader, peer, kind) DO UPDATE SET up_to = max(up_to, excluded.up_to)",
};

std::int64_t to_ns(wall_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

wall_clock::time_point from_ns(std::int64_t ns) {
  return wall_clock::time_point(
      std::chrono::duration_cast<wall_clock::duration>(std::chrono::nanoseconds(ns)));
}

std::vector<std::uint8_t> encode_ids(const std::vector<std::uint32_t>& ids) {
  std::vector<std::uint8_t> out;
  out.reserve(ids.size() * 4);
  for (auto id : ids)
    for (int shift = 0; shift < 32; shift += 8)
      out.push_back(static_cast<std::uint8_t>(id >> shift));
  return out;
}

std::vector<std::uint32_t> decode_ids(const std::vector<std::uint8_t>& bytes) {
  std::vector<std::uint32_t> ids;
  ids.reserve(bytes.size() / 4);
  for (std::size_t i = 0; i + 4 <= bytes.size(); i += 4)
    ids.push_back(std::uint32_t{bytes[i]} | std::uint32_t{bytes[i + 1]} << 8 |
                  std::uint32_t{bytes[i + 2]} << 16 | std::uint32_t{bytes[i + 3]} << 24);
  return ids;
}

// A failed SQLite call; turned into a message naming the file by the store.
struct sqlite_failure {
  int rc;
  std::string message;
  std::string_view what;
};

// Binds ?1, ?2, ... in order. SQLITE_STATIC: the op outlives the statement's step.
class binder {
 public:
  explicit binder(sqlite3_stmt* st) : st_(st) {}

  binder& text(std::string_view s) {
    return check(sqlite3_bind_text64(st_, next_, s.data(), s.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  binder& opt_text(const std::optional<std::string>& s) {
    return s ? text(*s) : check(sqlite3_bind_null(st_, next_));
  }
  binder& blob(std::span<const std::uint8_t> b) {
    // An empty vector's data() may be null, which SQLite would store as NULL, not as an
    // empty BLOB (and NOT NULL would then reject it).
    if (b.empty()) return check(sqlite3_bind_zeroblob(st_, next_, 0));
    return check(sqlite3_bind_blob64(st_, next_, b.data(), b.size(), SQLITE_STATIC));
  }
  binder& integer(std::int64_t v) { return check(sqlite3_bind_int64(st_, next_, v)); }
  binder& time(wall_clock::time_point t) { return integer(to_ns(t)); }
  binder& opt_time(const std::optional<wall_clock::time_point>& t) {
    return t ? time(*t) : check(sqlite3_bind_null(st_, next_));
  }

 private:
  binder& check(int rc) {
    if (rc != SQLITE_OK) throw sqlite_failure{rc, sqlite3_errstr(rc), "binding a value"};
    ++next_;
    return *this;
  }

  sqlite3_stmt* st_;
  int next_ = 1;
};

std::string column_text(sqlite3_stmt* st, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i))) : std::string();
}

std::optional<std::string> column_opt_text(sqlite3_stmt* st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
  return column_text(st, i);
}

std::vector<std::uint8_t> column_blob(sqlite3_stmt* st, int i) {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, i));
  const auto n = static_cast<std::size_t>(sqlite3_column_bytes(st, i));
  return p ? std::vector<std::uint8_t>(p, p + n) : std::vector<std::uint8_t>();
}

std::optional<wall_clock::time_point> column_opt_time(sqlite3_stmt* st, int i) {
  if (sqlite3_column_type(st, i) == SQLITE_NULL) return std::nullopt;
  return from_ns(sqlite3_column_int64(st, i));
}

struct finalizer {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using statement = std::unique_ptr<sqlite3_stmt, finalizer>;

// Makes a newly created file's directory entry durable (SQLite syncs the directory for
// the WAL it creates, not for the main file).
void sync_directory_of(const std::filesystem::path& file) {
  auto dir = file.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::optional<sync_policy> parse_sync_policy(std::string_view s) {
  if (s == "always") return sync_policy::always;
  if (s == "batch") return sync_policy::batch;
  if (s == "none") return sync_policy::none;
  return std::nullopt;
}

std::string_view to_string(sync_policy p) {
  switch (p) {
    case sync_policy::always:
      return "always";
    case sync_policy::batch:
      return "batch";
    case sync_policy::none:
      return "none";
  }
  return "?";
}

struct sqlite_store::op {
  struct erase_session {
    std::string client_id;
  };
  struct erase_subscription {
    std::string client_id, filter;
  };
  struct delivery_state {
    std::string client_id;
    std::uint64_t seq;
    std::uint16_t packet_id;
    bool released;
  };
  struct erase_delivery {
    std::string client_id;
    std::uint64_t seq;
  };
  struct erase_incoming {
    std::string client_id;
    std::uint16_t packet_id;
  };
  struct erase_retained {
    std::string topic;
  };
  struct erase_will {
    std::string client_id;
  };
  struct callback {
    std::function<void()> fn;
  };
  // load(), flush(): runs on the writer thread once the group it falls in is committed.
  // Not an event boundary (it may come from another thread in the middle of an event).
  struct task {
    std::function<void()> fn;
  };

  std::variant<session_record, erase_session, subscription_record, erase_subscription,
               delivery_record, delivery_state, erase_delivery, incoming_record, erase_incoming,
               retained_record, erase_retained, will_record, erase_will, chat_message_record,
               chat_receipt_record, callback, task>
      v;

  bool is_mutation() const {
    return !std::holds_alternative<callback>(v) && !std::holds_alternative<task>(v);
  }
};

sqlite_store::sqlite_store(std::filesystem::path path, sync_policy sync, deferrer defer,
                           sqlite_store_options options)
    : path_(std::move(path)),
      policy_(sync),
      defer_(std::move(defer)),
      options_(std::move(options)) {
  try {
    open_database();
  } catch (...) {
    for (auto* st : stmts_) sqlite3_finalize(st);
    stmts_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
  writer_ = std::thread([this] { writer_loop(); });
}

sqlite_store::~sqlite_store() {
  stop();
  for (auto* st : stmts_) sqlite3_finalize(st);
  // The last connection to close checkpoints the WAL into the main file and removes it.
  sqlite3_close(db_);
}

[[noreturn]] void sqlite_store::throw_error(int rc, std::string_view what) const {
  std::string msg = "natter store " + path_.string() + ": ";
  const std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_NOTADB:
      msg += "not an SQLite database (" + detail +
             "). Move the file aside or set persistence_location/persistence_file to another "
             "path; natter then starts with an empty store.";
      break;
    case SQLITE_CORRUPT:
      msg += "the database is corrupt (" + detail + ", at: " + std::string(what) +
             "). Move it aside, with its -wal and -shm files, to start with an empty store, or "
             "restore a backup; `sqlite3 FILE .recover` may salvage part of its contents.";
      break;
    default:
      msg += std::string(what) + ": " + detail;
  }
  throw std::runtime_error(msg);
}

void sqlite_store::exec(const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);  // sqlite3_errmsg still holds it
  if (rc != SQLITE_OK) throw_error(rc, sql);
}

void sqlite_store::step_reset(sqlite3_stmt* st, const char* what) {
  const int rc = sqlite3_step(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
    sqlite_failure f{rc, sqlite3_errmsg(db_), what};
    sqlite3_reset(st);
    throw f;
  }
  sqlite3_reset(st);
}

void sqlite_store::open_database() {
  std::error_code ec;
  const bool existed = std::filesystem::exists(path_, ec);

  int rc = sqlite3_open_v2(
      path_.c_str(), &db_,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  if (rc != SQLITE_OK)
    throw std::runtime_error("natter store " + path_.string() + ": cannot open (" +
                             (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)) +
                             "): does its directory exist, and may natter write there?");
  sqlite3_busy_timeout(db_, static_cast<int>(options_.busy_timeout.count()));

  auto prepare = [this](const char* sql) {
    sqlite3_stmt* st = nullptr;
    const int prc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
    if (prc != SQLITE_OK) throw_error(prc, std::string("preparing ") + sql);
    return statement(st);
  };
  // One row, one column: the PRAGMAs below.
  auto query = [&](const char* sql) {
    auto st = prepare(sql);
    const int src = sqlite3_step(st.get());
    if (src != SQLITE_ROW) throw_error(src == SQLITE_DONE ? SQLITE_ERROR : src, sql);
    return std::pair(sqlite3_column_int64(st.get(), 0), column_text(st.get(), 0));
  };

  // The first read of the file: a file that is not a database fails here (SQLITE_NOTADB).
  const auto app_id = static_cast<std::int32_t>(query("PRAGMA application_id").first);
  const auto version = query("PRAGMA user_version").first;

  // Before writing anything: a torn or damaged file is refused, not written over.
  if (options_.check != open_check::none) {
    const auto bytes = query("PRAGMA page_count").first * query("PRAGMA page_size").first;
    const bool full = options_.check == open_check::full ||
                      (options_.check == open_check::automatic &&
                       static_cast<std::uint64_t>(bytes) <= options_.full_check_max_bytes);
    const char* sql = full ? "PRAGMA integrity_check(5)" : "PRAGMA quick_check(5)";
    auto st = prepare(sql);
    std::string problems;
    int src;
    while ((src = sqlite3_step(st.get())) == SQLITE_ROW) {
      auto line = column_text(st.get(), 0);
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    if (src != SQLITE_DONE) throw_error(src, sql);
    if (!problems.empty())
      throw std::runtime_error(
          "natter store " + path_.string() + ": the database is corrupt (" + sql + ": " + problems +
          "). Move it aside, with its -wal and -shm files, to start with an empty store, or "
          "restore a backup; `sqlite3 FILE .recover` may salvage part of its contents.");
  }

  if (sqlite3_db_readonly(db_, "main") == 1)
    throw std::runtime_error("natter store " + path_.string() +
                             ": the file is read-only; natter must be able to write it.");

  const auto tables =
      query("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
          .first;
  if (app_id == 0 && version == 0 && tables == 0) {
    exec("PRAGMA journal_mode = WAL");  // persistent, stored in the file header
    exec("BEGIN IMMEDIATE");
    exec(schema_sql);
    exec(chat_schema_sql);
    exec(("PRAGMA application_id = " + std::to_string(natter_application_id)).c_str());
    exec(("PRAGMA user_version = " + std::to_string(schema_version)).c_str());
    exec("COMMIT");
    if (!existed) sync_directory_of(path_);
  } else if (app_id != natter_application_id) {
    throw std::runtime_error("natter store " + path_.string() +
                             ": this SQLite database is not a natter store (application_id " +
                             std::to_string(app_id) + ", " + std::to_string(tables) +
                             " tables). Set persistence_location/persistence_file to another "
                             "path, or move this file aside.");
  } else if (version > schema_version) {
    throw std::runtime_error(
        "natter store " + path_.string() + ": schema version " + std::to_string(version) +
        " was written by a newer natter; this one knows up to " + std::to_string(schema_version) +
        ". Run the newer natter, or move the file aside to start empty.");
  } else if (version < 1) {
    throw std::runtime_error("natter store " + path_.string() + ": unknown schema version " +
                             std::to_string(version) + ". Move the file aside to start empty.");
  }
  // Migrations from older schema versions, each in its own transaction.
  if (version == 1) {
    exec("BEGIN IMMEDIATE");
    exec(chat_schema_sql);
    exec("PRAGMA user_version = 2");
    exec("COMMIT");
  }

  const auto mode = query("PRAGMA journal_mode = WAL").second;
  if (mode != "wal")
    throw std::runtime_error("natter store " + path_.string() +
                             ": cannot switch to WAL mode (journal_mode is " + mode + ")");
  // WAL + FULL: each COMMIT fsyncs the WAL. OFF: no fsync at all (see the header).
  exec(policy_ == sync_policy::none ? "PRAGMA synchronous = OFF" : "PRAGMA synchronous = FULL");
  // Checkpoints reset the WAL; this trims the file afterwards so a burst does not leave
  // a huge WAL behind.
  exec("PRAGMA journal_size_limit = 67108864");

  stmts_.reserve(stmt_count);
  for (const char* sql : stmt_sql) stmts_.push_back(prepare(sql).release());
}

bool sqlite_store::enqueue(op&& o) {
  const bool mutation = o.is_mutation();
  const bool boundary = std::holds_alternative<op::callback>(o.v);
  bool wake;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    // The writer waits for work, (batch) for a full group, or for an event's end.
    wake = queue_.empty() || queue_.size() + 1 == options_.max_group_ops ||
           (boundary && waiting_for_boundary_);
    queue_.push_back(std::move(o));
    if (boundary) {
      last_boundary_ = queue_.size() - 1;
      unclosed_mutations_ = 0;
    } else if (mutation) {
      ++unclosed_mutations_;
      if (queued_mutations_++ == 0) first_mutation_at_ = std::chrono::steady_clock::now();
      if (waiting_for_boundary_) last_unclosed_op_at_ = std::chrono::steady_clock::now();
    }
  }
  if (wake) cv_.notify_one();
  return true;
}

void sqlite_store::put_session(const session_record& s) {
  enqueue(op{s});
}
void sqlite_store::erase_session(const std::string& client_id) {
  enqueue(op{op::erase_session{client_id}});
}
void sqlite_store::put_subscription(const subscription_record& s) {
  enqueue(op{s});
}
void sqlite_store::erase_subscription(const std::string& client_id, const std::string& filter) {
  enqueue(op{op::erase_subscription{client_id, filter}});
}
void sqlite_store::put_delivery(const delivery_record& d) {
  enqueue(op{d});
}
void sqlite_store::set_delivery_state(const std::string& client_id, std::uint64_t seq,
                                      std::uint16_t packet_id, bool released) {
  enqueue(op{op::delivery_state{client_id, seq, packet_id, released}});
}
void sqlite_store::erase_delivery(const std::string& client_id, std::uint64_t seq) {
  enqueue(op{op::erase_delivery{client_id, seq}});
}
void sqlite_store::put_incoming(const incoming_record& m) {
  enqueue(op{m});
}
void sqlite_store::erase_incoming(const std::string& client_id, std::uint16_t packet_id) {
  enqueue(op{op::erase_incoming{client_id, packet_id}});
}
void sqlite_store::put_retained(const retained_record& r) {
  enqueue(op{r});
}
void sqlite_store::erase_retained(const std::string& topic) {
  enqueue(op{op::erase_retained{topic}});
}
void sqlite_store::put_will(const will_record& w) {
  enqueue(op{w});
}
void sqlite_store::erase_will(const std::string& client_id) {
  enqueue(op{op::erase_will{client_id}});
}
void sqlite_store::after_durable(std::function<void()> fn) {
  enqueue(op{op::callback{std::move(fn)}});
}

// --- chat_store ---

void sqlite_store::put_chat_message(const chat_message_record& m) {
  enqueue(op{m});
}
void sqlite_store::put_chat_receipt(const chat_receipt_record& r) {
  enqueue(op{r});
}

namespace {
constexpr const char* chat_columns =
    "SELECT id, sender, recipient, client_msg_id, server_at_ms, body FROM chat_message ";

chat_message_record chat_row(sqlite3_stmt* st) {
  chat_message_record m;
  m.id = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
  m.sender = column_text(st, 1);
  m.recipient = column_text(st, 2);
  m.client_msg_id = column_text(st, 3);
  m.server_at_ms = sqlite3_column_int64(st, 4);
  const auto* p = static_cast<const char*>(sqlite3_column_blob(st, 5));
  m.body.assign(p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(st, 5)));
  return m;
}
}  // namespace

template <class Result, class Fn>
void sqlite_store::read(Fn&& query, std::function<void(Result)> done) {
  // Runs on the writer thread after everything queued before it is committed, so a read
  // sees every write that preceded it. A failed read answers with an empty result (logged
  // by the caller's absence of data; the store itself stays usable).
  enqueue(op{op::task{[this, query = std::forward<Fn>(query), done = std::move(done)]() mutable {
    Result r{};
    try {
      r = query();
    } catch (const sqlite_failure&) {
    } catch (const std::exception&) {
    }
    auto deliver = [r = std::move(r), done = std::move(done)]() mutable { done(std::move(r)); };
    if (defer_)
      defer_(std::move(deliver));
    else
      deliver();
  }}});
}

template <class Row>
void sqlite_store::select(const char* sql, const std::function<void(sqlite3_stmt*)>& bind,
                          Row&& row) {
  sqlite3_stmt* raw = nullptr;
  const int prc = sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr);
  if (prc != SQLITE_OK) throw sqlite_failure{prc, sqlite3_errmsg(db_), "preparing a query"};
  statement st(raw);
  bind(st.get());
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) row(st.get());
  if (rc != SQLITE_DONE) throw sqlite_failure{rc, sqlite3_errmsg(db_), "reading"};
}

void sqlite_store::read_history(chat_history_query q, std::function<void(chat_history_page)> done) {
  read<chat_history_page>(
      [this, q = std::move(q)] {
        chat_history_page page;
        const auto& [a, b] = std::minmax(q.user, q.peer);
        const std::string sql =
            std::string(chat_columns) +
            "WHERE user_a = ?1 AND user_b = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4";
        select(
            sql.c_str(),
            [&](sqlite3_stmt* st) {
              binder(st).text(a).text(b).integer(
                  q.before_id == 0 ? std::numeric_limits<std::int64_t>::max()
                                   : static_cast<std::int64_t>(q.before_id))
                  .integer(static_cast<std::int64_t>(q.limit) + 1);
            },
            [&](sqlite3_stmt* st) { page.messages.push_back(chat_row(st)); });
        if (page.messages.size() > q.limit) {
          page.messages.pop_back();
          page.has_more = true;
        }
        return page;
      },
      std::move(done));
}

void sqlite_store::read_conversations(std::string user,
                                      std::unordered_map<std::string, std::uint64_t> read_up_to,
                                      std::function<void(std::vector<chat_conversation>)> done) {
  read<std::vector<chat_conversation>>(
      [this, user = std::move(user), marks = std::move(read_up_to)] {
        std::vector<std::pair<std::string, std::int64_t>> peers;  // with their newest id
        select(
            "SELECT peer, max(id) AS last FROM ("
            " SELECT user_b AS peer, id FROM chat_message WHERE user_a = ?1"
            " UNION ALL"
            " SELECT user_a AS peer, id FROM chat_message WHERE user_b = ?1 AND user_a <> ?1"
            ") GROUP BY peer ORDER BY last DESC",
            [&](sqlite3_stmt* st) { binder(st).text(user); },
            [&](sqlite3_stmt* st) {
              peers.emplace_back(column_text(st, 0), sqlite3_column_int64(st, 1));
            });
        std::vector<chat_conversation> out;
        out.reserve(peers.size());
        for (auto& [peer, last] : peers) {
          chat_conversation c;
          c.peer = peer;
          const std::string sql = std::string(chat_columns) + "WHERE id = ?1";
          select(
              sql.c_str(), [&](sqlite3_stmt* st) { binder(st).integer(last); },
              [&](sqlite3_stmt* st) { c.last = chat_row(st); });
          if (peer != user) {
            auto m = marks.find(peer);
            const auto mark = m == marks.end() ? 0 : m->second;
            const auto& [a, b] = std::minmax(user, peer);
            select(
                "SELECT count(*) FROM chat_message WHERE user_a = ?1 AND user_b = ?2 "
                "AND sender = ?3 AND id > ?4",
                [&](sqlite3_stmt* st) {
                  binder(st).text(a).text(b).text(peer).integer(static_cast<std::int64_t>(mark));
                },
                [&](sqlite3_stmt* st) {
                  c.unread = static_cast<std::uint32_t>(sqlite3_column_int64(st, 0));
                });
          }
          out.push_back(std::move(c));
        }
        return out;
      },
      std::move(done));
}

chat_snapshot sqlite_store::load_chat(std::size_t recent) {
  std::promise<chat_snapshot> result;
  auto f = result.get_future();
  const bool queued = enqueue(op{op::task{[&] {
    try {
      chat_snapshot snap;
      select(
          "SELECT coalesce(max(id), 0) FROM chat_message", [](sqlite3_stmt*) {},
          [&](sqlite3_stmt* st) {
            snap.max_id = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
          });
      const std::string sql = std::string(chat_columns) + "ORDER BY id DESC LIMIT ?1";
      select(
          sql.c_str(),
          [&](sqlite3_stmt* st) { binder(st).integer(static_cast<std::int64_t>(recent)); },
          [&](sqlite3_stmt* st) { snap.recent.push_back(chat_row(st)); });
      select(
          "SELECT reader, peer, kind, up_to FROM chat_receipt", [](sqlite3_stmt*) {},
          [&](sqlite3_stmt* st) {
            snap.receipts.push_back(chat_receipt_record{
                column_text(st, 0), column_text(st, 1),
                static_cast<receipt_kind>(sqlite3_column_int64(st, 2)),
                static_cast<std::uint64_t>(sqlite3_column_int64(st, 3))});
          });
      result.set_value(std::move(snap));
    } catch (const sqlite_failure& e) {
      result.set_exception(std::make_exception_ptr(std::runtime_error(
          "natter store " + path_.string() + ": loading the chat history: " + e.message)));
    } catch (...) {
      result.set_exception(std::current_exception());
    }
  }}});
  if (!queued) throw std::logic_error("natter store " + path_.string() + ": load_chat() after stop()");
  return f.get();
}

snapshot sqlite_store::load(wall_clock::time_point now) {
  std::promise<snapshot> result;
  auto f = result.get_future();
  const bool queued = enqueue(op{op::task{[&] {
    try {
      result.set_value(do_load(now));
    } catch (...) {
      result.set_exception(std::current_exception());
    }
  }}});
  if (!queued) throw std::logic_error("natter store " + path_.string() + ": load() after stop()");
  return f.get();
}

bool sqlite_store::flush() {
  std::promise<void> done;
  auto f = done.get_future();
  if (enqueue(op{op::task{[&] { done.set_value(); }}})) f.get();
  return !failed_;
}

void sqlite_store::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // stop() from a callback running on the writer thread cannot join itself; the
  // destructor (on another thread) will.
  std::lock_guard jl(join_mu_);
  if (writer_.joinable() && writer_.get_id() != std::this_thread::get_id()) writer_.join();
}

sqlite_store_stats sqlite_store::stats() const {
  sqlite_store_stats s;
  {
    std::lock_guard lk(stats_mu_);
    s = stats_;
  }
  std::lock_guard lk(mu_);
  s.queued = queue_.size();
  s.failed = failed_;
  return s;
}

void sqlite_store::writer_loop() {
  using clock = std::chrono::steady_clock;
  constexpr auto none = static_cast<std::size_t>(-1);
  std::vector<op> group;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and everything is done
      if (policy_ == sync_policy::batch && !stopping_ && queued_mutations_ > 0) {
        // Gather more events into this group, without ever delaying past the window that
        // started when the oldest of its ops was queued.
        const auto deadline = first_mutation_at_ + options_.batch_window;
        cv_.wait_until(lk, deadline,
                       [&] { return stopping_ || queue_.size() >= options_.max_group_ops; });
      }
      if (last_boundary_ == none && unclosed_mutations_ > 0 && !stopping_) {
        // Only ops of an event the strand is still queuing: wait for its after_durable(),
        // or until the strand has gone quiet (an event that ends without one).
        waiting_for_boundary_ = true;
        last_unclosed_op_at_ = clock::now();
        while (!stopping_ && last_boundary_ == none) {
          const auto deadline = last_unclosed_op_at_ + options_.idle_commit_delay;
          if (clock::now() >= deadline) break;
          cv_.wait_until(lk, deadline);
        }
        waiting_for_boundary_ = false;
      }
      if (stopping_ || last_boundary_ == none || last_boundary_ + 1 == queue_.size()) {
        group.swap(queue_);
        queued_mutations_ = 0;
        unclosed_mutations_ = 0;
      } else {  // the unfinished event after the last boundary stays for the next group
        const auto end = queue_.begin() + static_cast<std::ptrdiff_t>(last_boundary_ + 1);
        group.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(end));
        queue_.erase(queue_.begin(), end);
        queued_mutations_ = unclosed_mutations_;
        first_mutation_at_ = clock::now();
      }
      last_boundary_ = none;
    }
    process(group);
    group.clear();
  }
}

void sqlite_store::process(std::vector<op>& group) {
  using clock = std::chrono::steady_clock;
  std::vector<std::function<void()>> callbacks;
  bool in_tx = false;
  std::uint64_t applied = 0;  // in the open transaction
  clock::time_point tx_start;

  auto commit = [&] {
    const auto commit_start = clock::now();
    step_reset(stmts_[commit_tx], "COMMIT");
    in_tx = false;
    const auto end = clock::now();
    const auto commit_time = end - commit_start;
    const auto tx_time = end - tx_start;
    std::lock_guard lk(stats_mu_);
    stats_.ops_applied += applied;
    stats_.commits += 1;
    stats_.max_group_ops = std::max(stats_.max_group_ops, applied);
    stats_.commit_time_total += commit_time;
    stats_.commit_time_max =
        std::max<std::chrono::nanoseconds>(stats_.commit_time_max, commit_time);
    stats_.transaction_time_total += tx_time;
    stats_.transaction_time_max =
        std::max<std::chrono::nanoseconds>(stats_.transaction_time_max, tx_time);
    using namespace std::chrono_literals;
    constexpr std::array<std::chrono::nanoseconds, 5> limits{100us, 1ms, 10ms, 100ms, 1s};
    const auto bucket = static_cast<std::size_t>(
        std::upper_bound(limits.begin(), limits.end(), commit_time) - limits.begin());
    stats_.commit_time_histogram[bucket] += 1;
    auto fine_bucket = [](std::chrono::nanoseconds t) {
      return static_cast<std::size_t>(std::lower_bound(latency_bucket_bounds.begin(),
                                                       latency_bucket_bounds.end(), t) -
                                      latency_bucket_bounds.begin());
    };
    stats_.commit_time_buckets[fine_bucket(commit_time)] += 1;
    stats_.transaction_time_buckets[fine_bucket(tx_time)] += 1;
    applied = 0;
  };

  // Rolls back, drops the transaction's ops and the callbacks that waited for them, and
  // stops the store; the rest of the group is still walked so that tasks (flush, load)
  // waiting on it return.
  auto on_failure = [&](std::string what, int rc, std::uint64_t unapplied) {
    if (!sqlite3_get_autocommit(db_)) {  // SQLite may have rolled back already (SQLITE_FULL)
      sqlite3_step(stmts_[rollback_tx]);
      sqlite3_reset(stmts_[rollback_tx]);
    }
    if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB)
      what +=
          "; the database is corrupt: move it aside, with its -wal and -shm files, or restore "
          "a backup";
    {
      std::lock_guard lk(stats_mu_);
      stats_.ops_dropped += applied + unapplied;
    }
    in_tx = false;
    applied = 0;
    callbacks.clear();
    fail(what);
  };
  // `unapplied`: the op being applied, if any (not yet counted in `applied`).
  auto guarded = [&](auto&& fn, std::uint64_t unapplied) {
    try {
      fn();
    } catch (const sqlite_failure& f) {
      on_failure("natter store " + path_.string() + ": " + std::string(f.what) + ": " + f.message +
                     " (error " + std::to_string(f.rc) + ")",
                 f.rc, unapplied);
    } catch (const std::exception& e) {
      on_failure("natter store " + path_.string() + ": " + e.what(), 0, unapplied);
    }
  };

  std::vector<std::function<void()>> tasks;  // run once the group is committed
  for (auto& o : group) {
    if (auto* cb = std::get_if<op::callback>(&o.v)) {
      if (!failed_ && cb->fn) callbacks.push_back(std::move(cb->fn));
      // An event ends here: the only place a big group may be cut.
      if (in_tx && applied >= options_.max_group_ops) {
        guarded(commit, 0);
        dispatch(callbacks);
      }
      continue;
    }
    if (auto* t = std::get_if<op::task>(&o.v)) {
      tasks.push_back(std::move(t->fn));
      continue;
    }
    if (failed_) {
      std::lock_guard lk(stats_mu_);
      stats_.ops_dropped += 1;
      continue;
    }
    guarded(
        [&] {
          if (!in_tx) {
            // Callbacks queued before this op depend only on earlier, committed groups.
            dispatch(callbacks);
            tx_start = clock::now();
            step_reset(stmts_[begin_tx], "BEGIN");
            in_tx = true;
          }
          apply(o);
          ++applied;
        },
        1);
  }
  if (in_tx) guarded(commit, 0);
  dispatch(callbacks);
  for (auto& t : tasks) t();  // load() and flush() catch their own exceptions
}

void sqlite_store::apply(const op& o) {
  std::visit(
      [this](const auto& r) {
        using T = std::decay_t<decltype(r)>;
        auto run = [this](stmt_id id, auto&& bind) {
          sqlite3_stmt* st = stmts_[id];
          bind(binder(st));
          step_reset(st, stmt_sql[id]);
        };
        if constexpr (std::is_same_v<T, session_record>) {
          run(put_session_st, [&](binder b) {
            b.text(r.client_id)
                .opt_text(r.username)
                .integer(r.expiry_interval)
                .opt_time(r.expires_at)
                .integer(r.last_packet_id);
          });
        } else if constexpr (std::is_same_v<T, op::erase_session>) {
          for (auto id : {erase_session_subscriptions_st, erase_session_deliveries_st,
                          erase_session_incoming_st, erase_session_will_st, erase_session_st})
            run(id, [&](binder b) { b.text(r.client_id); });
        } else if constexpr (std::is_same_v<T, subscription_record>) {
          run(put_subscription_st, [&](binder b) {
            b.text(r.client_id).text(r.filter).integer(r.options).integer(r.subscription_id);
          });
        } else if constexpr (std::is_same_v<T, op::erase_subscription>) {
          run(erase_subscription_st, [&](binder b) { b.text(r.client_id).text(r.filter); });
        } else if constexpr (std::is_same_v<T, delivery_record>) {
          const auto ids = encode_ids(r.subscription_ids);
          run(put_delivery_st, [&](binder b) {
            b.text(r.client_id)
                .integer(static_cast<std::int64_t>(r.seq))
                .blob(r.publish)
                .blob(ids)
                .opt_time(r.expires_at)
                .integer(r.packet_id)
                .integer(r.released ? 1 : 0);
          });
        } else if constexpr (std::is_same_v<T, op::delivery_state>) {
          run(set_delivery_state_st, [&](binder b) {
            b.text(r.client_id)
                .integer(static_cast<std::int64_t>(r.seq))
                .integer(r.packet_id)
                .integer(r.released ? 1 : 0);
          });
        } else if constexpr (std::is_same_v<T, op::erase_delivery>) {
          run(erase_delivery_st,
              [&](binder b) { b.text(r.client_id).integer(static_cast<std::int64_t>(r.seq)); });
        } else if constexpr (std::is_same_v<T, incoming_record>) {
          run(put_incoming_st, [&](binder b) {
            b.text(r.client_id).integer(r.packet_id).blob(r.publish).opt_time(r.expires_at);
          });
        } else if constexpr (std::is_same_v<T, op::erase_incoming>) {
          run(erase_incoming_st, [&](binder b) { b.text(r.client_id).integer(r.packet_id); });
        } else if constexpr (std::is_same_v<T, retained_record>) {
          run(put_retained_st,
              [&](binder b) { b.text(r.topic).blob(r.publish).opt_time(r.expires_at); });
        } else if constexpr (std::is_same_v<T, op::erase_retained>) {
          run(erase_retained_st, [&](binder b) { b.text(r.topic); });
        } else if constexpr (std::is_same_v<T, will_record>) {
          run(put_will_st, [&](binder b) {
            b.text(r.client_id).blob(r.publish).time(r.fire_at).opt_time(r.expires_at);
          });
        } else if constexpr (std::is_same_v<T, op::erase_will>) {
          run(erase_will_st, [&](binder b) { b.text(r.client_id); });
        } else if constexpr (std::is_same_v<T, chat_message_record>) {
          run(put_chat_message_st, [&](binder b) {
            b.integer(static_cast<std::int64_t>(r.id))
                .text(r.sender)
                .text(r.recipient)
                .text(r.client_msg_id)
                .integer(r.server_at_ms)
                .blob(std::span(reinterpret_cast<const std::uint8_t*>(r.body.data()),
                                r.body.size()));
          });
        } else if constexpr (std::is_same_v<T, chat_receipt_record>) {
          run(put_chat_receipt_st, [&](binder b) {
            b.text(r.reader)
                .text(r.peer)
                .integer(static_cast<std::int64_t>(r.kind))
                .integer(static_cast<std::int64_t>(r.up_to));
          });
        }
        // callback and task never get here (process() handles them).
      },
      o.v);
}

void sqlite_store::dispatch(std::vector<std::function<void()>>& callbacks) {
  if (callbacks.empty()) return;
  {
    std::lock_guard lk(stats_mu_);
    stats_.callbacks_run += callbacks.size();
  }
  // One closure per group keeps the order and costs the strand one post, not one per ack.
  // Callbacks and the deferrer must not throw (on this thread it would end the process).
  auto run = [cbs = std::move(callbacks)]() mutable {
    for (auto& f : cbs)
      if (f) f();
  };
  callbacks = {};
  if (defer_)
    defer_(std::move(run));
  else
    run();
}

void sqlite_store::fail(const std::string& what) {
  failed_ = true;
  {
    std::lock_guard lk(stats_mu_);
    stats_.failed = true;
  }
  if (!options_.on_error) return;
  if (defer_)
    defer_([cb = options_.on_error, what] { cb(what); });
  else
    options_.on_error(what);
}

snapshot sqlite_store::do_load(wall_clock::time_point now) {
  if (failed_) throw std::runtime_error("natter store " + path_.string() + ": failed earlier");
  auto prepare = [this](const char* sql) {
    sqlite3_stmt* st = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql, -1, &st, nullptr);
    if (rc != SQLITE_OK) throw_error(rc, std::string("preparing ") + sql);
    return statement(st);
  };
  auto run = [&](const char* sql, auto&& row) {
    auto st = prepare(sql);
    sqlite3_bind_int64(st.get(), 1, to_ns(now));  // ?1 where used; harmless otherwise
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) row(st.get());
    if (rc != SQLITE_DONE) throw_error(rc, sql);
  };
  auto none = [](sqlite3_stmt*) {};

  snapshot out;
  exec("BEGIN IMMEDIATE");
  try {
    // NULL < ?1 is NULL: rows without an expiry stay.
    constexpr const char* purge[] = {
        "DELETE FROM session WHERE expires_at < ?1",
        // The rows of expired sessions, and any other row whose session is gone: the broker
        // restores no row without its session, so they would stay in the file forever.
        "DELETE FROM subscription WHERE client_id NOT IN (SELECT client_id FROM session)",
        "DELETE FROM delivery WHERE client_id NOT IN (SELECT client_id FROM session)",
        "DELETE FROM incoming WHERE client_id NOT IN (SELECT client_id FROM session)",
        "DELETE FROM will WHERE client_id NOT IN (SELECT client_id FROM session)",
        // [MQTT-3.3.2-5] (v5) an expired message whose onward delivery has not started is
        // deleted; one in flight (packet_id set) must still be completed or resent.
        "DELETE FROM delivery WHERE expires_at < ?1 AND packet_id = 0",
        "DELETE FROM incoming WHERE expires_at < ?1",
        "DELETE FROM retained WHERE expires_at < ?1",
        "DELETE FROM will WHERE expires_at < ?1",
    };
    for (const char* sql : purge) run(sql, none);

    run("SELECT client_id, username, expiry_interval, expires_at, last_packet_id FROM session "
        "ORDER BY client_id",
        [&](sqlite3_stmt* st) {
          out.sessions.push_back(session_record{
              column_text(st, 0), column_opt_text(st, 1),
              static_cast<std::uint32_t>(sqlite3_column_int64(st, 2)), column_opt_time(st, 3),
              static_cast<std::uint16_t>(sqlite3_column_int64(st, 4))});
        });
    run("SELECT client_id, filter, options, subscription_id FROM subscription "
        "ORDER BY client_id, filter",
        [&](sqlite3_stmt* st) {
          out.subscriptions.push_back(
              subscription_record{column_text(st, 0), column_text(st, 1),
                                  static_cast<std::uint8_t>(sqlite3_column_int64(st, 2)),
                                  static_cast<std::uint32_t>(sqlite3_column_int64(st, 3))});
        });
    run("SELECT client_id, seq, publish, subscription_ids, expires_at, packet_id, released "
        "FROM delivery ORDER BY client_id, seq",
        [&](sqlite3_stmt* st) {
          out.deliveries.push_back(delivery_record{
              column_text(st, 0), static_cast<std::uint64_t>(sqlite3_column_int64(st, 1)),
              column_blob(st, 2), decode_ids(column_blob(st, 3)), column_opt_time(st, 4),
              static_cast<std::uint16_t>(sqlite3_column_int64(st, 5)),
              sqlite3_column_int64(st, 6) != 0});
        });
    run("SELECT client_id, packet_id, publish, expires_at FROM incoming "
        "ORDER BY client_id, packet_id",
        [&](sqlite3_stmt* st) {
          out.incoming.push_back(incoming_record{
              column_text(st, 0), static_cast<std::uint16_t>(sqlite3_column_int64(st, 1)),
              column_blob(st, 2), column_opt_time(st, 3)});
        });
    run("SELECT topic, publish, expires_at FROM retained ORDER BY topic", [&](sqlite3_stmt* st) {
      out.retained.push_back(
          retained_record{column_text(st, 0), column_blob(st, 1), column_opt_time(st, 2)});
    });
    run("SELECT client_id, publish, fire_at, expires_at FROM will ORDER BY client_id",
        [&](sqlite3_stmt* st) {
          out.wills.push_back(will_record{column_text(st, 0), column_blob(st, 1),
                                          from_ns(sqlite3_column_int64(st, 2)),
                                          column_opt_time(st, 3)});
        });
    exec("COMMIT");
  } catch (...) {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }

  // SQLite orders seq as a signed integer; the broker's order is unsigned.
  auto key = [](const delivery_record& d) { return std::tie(d.client_id, d.seq); };
  if (!std::is_sorted(out.deliveries.begin(), out.deliveries.end(),
                      [&](const auto& a, const auto& b) { return key(a) < key(b); }))
    std::stable_sort(out.deliveries.begin(), out.deliveries.end(),
                     [&](const auto& a, const auto& b) { return key(a) < key(b); });
  return out;
}

}  // namespace natter::store
