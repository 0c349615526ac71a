#include "storage/soci_store.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include "storage/errors.hpp"

namespace parley::storage {

// -- SQL dialects --------------------------------------------------------------
//
// Everything that differs between SQL backends lives in this struct and its instances.
// Only SQLite is linked today. Adding PostgreSQL or MySQL (Vitess/MariaDB) means one more
// instance here plus linking its SOCI backend:
// - DDL: `BIGSERIAL` / `BIGINT AUTO_INCREMENT` channel ids, `TIMESTAMP(6)` for ts, with
//   `ts_in`/`ts_out` converting to and from integer microseconds since the epoch;
// - insert-or-ignore: PostgreSQL also takes `ON CONFLICT DO NOTHING`, MySQL `INSERT IGNORE`;
// - write transactions: plain `BEGIN` (row locks do what SQLite's IMMEDIATE does here);
// - the new channel id: `currval('channels_channel_id_seq')` / `LAST_INSERT_ID()`.

/// The backend-specific SQL of a `soci_store`.
struct sql_dialect {
  /// The backend name in a connection string ("sqlite3" in "sqlite3://db=...").
  std::string_view backend;
  /// The statically linked SOCI backend.
  const soci::backend_factory* (*factory)();
  /// Connection settings (durability, lock waits); runs once after connecting.
  void (*configure)(soci::session& sql, sync_mode mode);
  /// Idempotent schema creation, run in one write transaction.
  std::vector<std::string> ddl;
  /// Starts a transaction that will write; takes the write lock up front where needed.
  std::string begin_write;
  /// `insert_ignore_head + " table (...) VALUES (...)" + insert_ignore_tail` inserts a row
  /// unless it conflicts with the primary key or a unique constraint (then 0 rows affected).
  std::string insert_ignore_head;
  std::string insert_ignore_tail;
  /// SQL converting a parameter holding integer microseconds into a timestamp column value.
  std::string (*ts_in)(const std::string& param);
  /// SQL converting a timestamp column back into integer microseconds.
  std::string (*ts_out)(const std::string& column);
  /// Returns the id of the channel inserted last by this session.
  long long (*last_channel_id)(soci::session& sql);

  std::string insert_ignore(const std::string& into_values) const {
    return insert_ignore_head + " " + into_values + insert_ignore_tail;
  }
};

namespace {

void configure_sqlite(soci::session& sql, sync_mode mode) {
  // Set first, so that switching the journal mode waits for other connections' locks.
  sql << "PRAGMA busy_timeout=5000";
  std::string journal;
  sql << "PRAGMA journal_mode=WAL", soci::into(journal);
  std::transform(journal.begin(), journal.end(), journal.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // An in-memory database reports "memory": it has nothing to make durable anyway.
  if (journal != "wal" && journal != "memory")
    throw std::runtime_error("cannot switch SQLite to WAL (journal_mode is " + journal + ")");
  // DESIGN.md "Durability": NORMAL in WAL survives kill -9; FULL fsyncs every commit.
  sql << (mode == sync_mode::full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  sql << "PRAGMA foreign_keys=OFF";
}

const sql_dialect sqlite_dialect{
  "sqlite3",
  &soci::factory_sqlite3,
  &configure_sqlite,
  {
    // ts and the *_at columns are integer microseconds since the Unix epoch (TIMESTAMP(6)
    // on servers); a BIGINT column gives them INTEGER affinity.
    "CREATE TABLE IF NOT EXISTS messages ("
    " workspace_id BIGINT NOT NULL,"
    " channel_id BIGINT NOT NULL,"
    " channel_seq BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " client_msg_id VARCHAR(64),"
    " content TEXT,"
    " ts BIGINT NOT NULL,"
    " PRIMARY KEY (workspace_id, channel_id, channel_seq),"
    " UNIQUE (workspace_id, user_id, client_msg_id))",
    "CREATE TABLE IF NOT EXISTS channel_members ("
    " workspace_id BIGINT NOT NULL,"
    " channel_id BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " joined_at BIGINT NOT NULL,"
    " PRIMARY KEY (workspace_id, channel_id, user_id))",
    // channel_id makes the index covering for channels_of (SQLite indexes carry the rowid,
    // not the primary key).
    "CREATE INDEX IF NOT EXISTS channel_members_by_user"
    " ON channel_members (workspace_id, user_id, channel_id)",
    // AUTOINCREMENT: ids start at 1 and are never reused, even after the newest is deleted.
    "CREATE TABLE IF NOT EXISTS channels ("
    " channel_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " workspace_id BIGINT NOT NULL,"
    " name TEXT NOT NULL,"
    " dm_key VARCHAR(64) UNIQUE,"
    " created_at BIGINT NOT NULL)",
  },
  // A deferred transaction that reads first can fail with SQLITE_BUSY without waiting when
  // another connection commits in between; IMMEDIATE waits for the write lock at BEGIN.
  "BEGIN IMMEDIATE",
  "INSERT INTO",
  " ON CONFLICT DO NOTHING", // SQLite >= 3.24
  [](const std::string& param) { return param; },
  [](const std::string& column) { return column; },
  [](soci::session& sql) {
    long long id = 0;
    if (!sql.get_last_insert_id("channels", id))
      throw std::runtime_error("cannot read the new channel id");
    return id;
  },
};

const sql_dialect* const dialects[] = {&sqlite_dialect};

/// A request that cannot be stored; surfaces as `errc::invalid`.
struct invalid_request : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// Converts an id or seq to the signed BIGINT the database stores (DESIGN.md: 1 ... 2^63-1).
long long to_db(uint64_t value, const char* what) {
  if (value > static_cast<uint64_t>(std::numeric_limits<long long>::max()))
    throw invalid_request(std::string(what) + " exceeds 2^63-1");
  return static_cast<long long>(value);
}

long long now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

/// Runs `f` (returning `caf::expected<T>`) and turns every exception into a storage error.
template <class F>
auto guarded(const char* operation, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const invalid_request& e) {
    return make_error(errc::invalid, std::string(operation) + ": " + e.what());
  } catch (const std::exception& e) {
    return make_error(errc::io_failure, std::string(operation) + ": " + e.what());
  } catch (...) {
    return make_error(errc::io_failure, std::string(operation) + ": unknown exception");
  }
}

/// A write transaction that rolls back unless committed (also while unwinding).
class write_transaction {
public:
  write_transaction(soci::session& sql, const sql_dialect& dialect) : sql_(sql) {
    sql_ << dialect.begin_write;
  }

  write_transaction(const write_transaction&) = delete;
  write_transaction& operator=(const write_transaction&) = delete;

  ~write_transaction() {
    if (committed_)
      return;
    try {
      sql_ << "ROLLBACK";
    } catch (...) {
      // The backend already ended the transaction; nothing is left to undo.
    }
  }

  void commit() {
    sql_ << "COMMIT";
    committed_ = true;
  }

private:
  soci::session& sql_;
  bool committed_ = false;
};

/// Receives one row of `message_columns`.
struct message_row {
  long long workspace = 0;
  long long channel = 0;
  long long seq = 0;
  long long user = 0;
  std::string client_msg_id;
  soci::indicator client_msg_id_ind = soci::i_ok;
  std::string text;
  soci::indicator text_ind = soci::i_ok;
  long long ts = 0;

  chat_message to_message() const {
    chat_message m;
    m.workspace = workspace_id{static_cast<uint64_t>(workspace)};
    m.channel = channel_id{static_cast<uint64_t>(channel)};
    m.seq = static_cast<uint64_t>(seq);
    m.user = user_id{static_cast<uint64_t>(user)};
    if (client_msg_id_ind == soci::i_ok)
      m.client_msg_id = client_msg_id;
    if (text_ind == soci::i_ok)
      m.text = text;
    m.ts = ts;
    return m;
  }
};

std::string message_columns(const sql_dialect& d) {
  return "workspace_id, channel_id, channel_seq, user_id, client_msg_id, content, "
         + d.ts_out("ts");
}

/// Echoes a connection string with any password hidden.
std::string describe(const std::string& connection) {
  auto pos = connection.find("password=");
  if (pos == std::string::npos)
    return connection;
  auto end = connection.find(' ', pos);
  return connection.substr(0, pos) + "password=***"
         + (end == std::string::npos ? "" : connection.substr(end));
}

constexpr size_t max_client_msg_id = 64; // DESIGN.md "Rules": 1 ... 64 characters

} // namespace

// -- construction ----------------------------------------------------------------

soci_store::soci_store(std::unique_ptr<soci::session> sql, const sql_dialect& dialect)
  : sql_(std::move(sql)), dialect_(dialect) {
}

soci_store::~soci_store() = default;

caf::expected<std::unique_ptr<soci_store>> open_soci_store(const std::string& connection,
                                                           sync_mode mode) {
  auto sep = connection.find("://");
  if (sep == std::string::npos || sep == 0)
    return make_error(errc::invalid, "storage connection must look like backend://parameters, got '"
                                       + describe(connection) + "'");
  auto backend = std::string_view{connection}.substr(0, sep);
  auto parameters = connection.substr(sep + 3);
  const sql_dialect* dialect = nullptr;
  for (auto* d : dialects)
    if (d->backend == backend)
      dialect = d;
  if (dialect == nullptr)
    return make_error(errc::invalid, "storage backend '" + std::string(backend)
                                       + "' is not linked into this build (have: sqlite3)");
  using result = caf::expected<std::unique_ptr<soci_store>>;
  auto context = "open " + describe(connection);
  return guarded(context.c_str(), [&]() -> result {
    auto sql = std::make_unique<soci::session>();
    sql->open(*dialect->factory(), parameters);
    dialect->configure(*sql, mode);
    // Idempotent; the write lock serializes stores opening the same new database.
    write_transaction tx{*sql, *dialect};
    for (auto& statement : dialect->ddl)
      *sql << statement;
    tx.commit();
    return std::unique_ptr<soci_store>{new soci_store(std::move(sql), *dialect)};
  });
}

// -- message_log -------------------------------------------------------------------

std::optional<chat_message> soci_store::select_sent(long long workspace, long long user,
                                                    const std::string& client_msg_id) {
  message_row row;
  *sql_ << "SELECT " + message_columns(dialect_)
             + " FROM messages WHERE workspace_id = :w AND user_id = :u AND client_msg_id = :m",
    soci::use(workspace), soci::use(user), soci::use(client_msg_id), soci::into(row.workspace),
    soci::into(row.channel), soci::into(row.seq), soci::into(row.user),
    soci::into(row.client_msg_id, row.client_msg_id_ind), soci::into(row.text, row.text_ind),
    soci::into(row.ts);
  if (!sql_->got_data())
    return std::nullopt;
  return row.to_message();
}

caf::expected<std::vector<append_outcome>>
soci_store::append(const std::vector<chat_message>& batch) {
  using result = caf::expected<std::vector<append_outcome>>;
  return guarded("append", [&]() -> result {
    std::vector<append_outcome> outcomes;
    if (batch.empty())
      return outcomes;
    outcomes.reserve(batch.size());
    // Check the whole batch before writing: an error means no row of it is durable.
    for (auto& msg : batch) {
      to_db(msg.workspace.value, "workspace id");
      to_db(msg.channel.value, "channel id");
      to_db(msg.seq, "channel_seq");
      to_db(msg.user.value, "user id");
      if (msg.client_msg_id.size() > max_client_msg_id)
        throw invalid_request("client_msg_id longer than 64 bytes");
    }
    long long workspace = 0, channel = 0, seq = 0, user = 0, ts = 0;
    std::string client_msg_id, text;
    soci::indicator client_msg_id_ind = soci::i_ok;
    // Group commit: one transaction per batch (DESIGN.md "sequencer").
    write_transaction tx{*sql_, dialect_};
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "messages (workspace_id, channel_id, channel_seq, user_id, client_msg_id, content, ts)"
           " VALUES (:w, :c, :s, :u, :m, :t, "
           + dialect_.ts_in(":ts") + ")"),
         soci::use(workspace), soci::use(channel), soci::use(seq), soci::use(user),
         soci::use(client_msg_id, client_msg_id_ind), soci::use(text), soci::use(ts));
    for (auto& msg : batch) {
      workspace = static_cast<long long>(msg.workspace.value);
      channel = static_cast<long long>(msg.channel.value);
      seq = static_cast<long long>(msg.seq);
      user = static_cast<long long>(msg.user.value);
      client_msg_id = msg.client_msg_id;
      // No client_msg_id means no dedup: NULLs never collide in the UNIQUE key.
      client_msg_id_ind = msg.client_msg_id.empty() ? soci::i_null : soci::i_ok;
      text = msg.text;
      ts = msg.ts;
      insert.execute(true);
      append_outcome outcome;
      if (insert.get_affected_rows() == 0) {
        // Nothing inserted: either the dedup key exists (possibly from earlier in this very
        // batch, which this transaction sees) or the seq is taken — the primary key fences
        // a stale second writer of the channel (DESIGN.md "sequencer").
        std::optional<chat_message> original;
        if (!msg.client_msg_id.empty())
          original = select_sent(workspace, user, msg.client_msg_id);
        if (original) {
          outcome.status = append_status::duplicate;
          outcome.original = std::move(*original);
        } else {
          outcome.status = append_status::seq_taken;
        }
      }
      outcomes.push_back(std::move(outcome));
    }
    tx.commit();
    return outcomes;
  });
}

caf::expected<std::optional<chat_message>>
soci_store::find_sent(workspace_id workspace, user_id user, const std::string& client_msg_id) {
  using result = caf::expected<std::optional<chat_message>>;
  return guarded("find_sent", [&]() -> result {
    if (client_msg_id.empty())
      return std::optional<chat_message>{};
    return select_sent(to_db(workspace.value, "workspace id"), to_db(user.value, "user id"),
                       client_msg_id);
  });
}

caf::expected<uint64_t> soci_store::latest_seq(workspace_id workspace, channel_id channel) {
  return guarded("latest_seq", [&]() -> caf::expected<uint64_t> {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long seq = 0;
    *sql_ << "SELECT COALESCE(MAX(channel_seq), 0) FROM messages"
             " WHERE workspace_id = :w AND channel_id = :c",
      soci::use(w), soci::use(c), soci::into(seq);
    return static_cast<uint64_t>(seq);
  });
}

caf::expected<std::vector<chat_message>>
soci_store::read_after(workspace_id workspace, channel_id channel, uint64_t after_seq,
                       uint32_t limit) {
  using result = caf::expected<std::vector<chat_message>>;
  return guarded("read_after", [&]() -> result {
    std::vector<chat_message> messages;
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long after = to_db(after_seq, "after_seq");
    long long n = limit;
    if (n == 0)
      return messages;
    messages.reserve(std::min<long long>(n, 1000));
    message_row row;
    soci::statement select
      = (sql_->prepare << "SELECT " + message_columns(dialect_)
                            + " FROM messages WHERE workspace_id = :w AND channel_id = :c"
                              " AND channel_seq > :a ORDER BY channel_seq LIMIT :n",
         soci::use(w), soci::use(c), soci::use(after), soci::use(n), soci::into(row.workspace),
         soci::into(row.channel), soci::into(row.seq), soci::into(row.user),
         soci::into(row.client_msg_id, row.client_msg_id_ind), soci::into(row.text, row.text_ind),
         soci::into(row.ts));
    // Fetch to the end: a half-read SQLite statement would keep its read snapshot open.
    select.execute();
    while (select.fetch())
      messages.push_back(row.to_message());
    return messages;
  });
}

// -- membership_store ----------------------------------------------------------------

caf::expected<std::optional<channel_info>> soci_store::find_channel(channel_id channel) {
  using result = caf::expected<std::optional<channel_info>>;
  return guarded("find_channel", [&]() -> result {
    long long c = to_db(channel.value, "channel id");
    long long workspace = 0;
    std::string name, dm_key;
    soci::indicator dm_key_ind = soci::i_null;
    *sql_ << "SELECT workspace_id, name, dm_key FROM channels WHERE channel_id = :c",
      soci::use(c), soci::into(workspace), soci::into(name), soci::into(dm_key, dm_key_ind);
    if (!sql_->got_data())
      return std::optional<channel_info>{};
    channel_info info;
    info.id = channel;
    info.workspace = workspace_id{static_cast<uint64_t>(workspace)};
    info.is_dm = dm_key_ind == soci::i_ok;
    if (!info.is_dm)
      info.name = name;
    return std::optional<channel_info>{std::move(info)};
  });
}

caf::expected<channel_id> soci_store::create_channel(workspace_id workspace,
                                                     const std::string& name,
                                                     const std::vector<user_id>& members) {
  return guarded("create_channel", [&]() -> caf::expected<channel_id> {
    long long w = to_db(workspace.value, "workspace id");
    for (auto member : members)
      to_db(member.value, "user id");
    long long now = now_micros();
    write_transaction tx{*sql_, dialect_};
    *sql_ << "INSERT INTO channels (workspace_id, name, dm_key, created_at)"
             " VALUES (:w, :n, NULL, " + dialect_.ts_in(":t") + ")",
      soci::use(w), soci::use(name), soci::use(now);
    long long c = dialect_.last_channel_id(*sql_);
    long long u = 0;
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    // Ignoring conflicts makes a member listed twice harmless.
    for (auto member : members) {
      u = static_cast<long long>(member.value);
      insert.execute(true);
    }
    tx.commit();
    return channel_id{static_cast<uint64_t>(c)};
  });
}

caf::expected<channel_id> soci_store::open_dm(workspace_id workspace, user_id a, user_id b,
                                              bool& created) {
  created = false;
  if (a == b)
    return make_error(errc::invalid, "open_dm: a DM needs two different users");
  return guarded("open_dm", [&]() -> caf::expected<channel_id> {
    long long w = to_db(workspace.value, "workspace id");
    long long lo = to_db(std::min(a, b).value, "user id");
    long long hi = to_db(std::max(a, b).value, "user id");
    // The key of the unordered pair; at most 62 characters, within VARCHAR(64).
    std::string key = "W" + std::to_string(w) + ":U" + std::to_string(lo) + ":U"
                      + std::to_string(hi);
    long long c = 0;
    write_transaction tx{*sql_, dialect_};
    *sql_ << "SELECT channel_id FROM channels WHERE dm_key = :k", soci::use(key),
      soci::into(c);
    if (sql_->got_data()) {
      tx.commit();
      return channel_id{static_cast<uint64_t>(c)};
    }
    long long now = now_micros();
    std::string empty_name;
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channels (workspace_id, name, dm_key, created_at)"
           " VALUES (:w, :n, :k, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(empty_name), soci::use(key), soci::use(now));
    insert.execute(true);
    if (insert.get_affected_rows() == 0) {
      // Another store created it after our SELECT (possible on backends whose BEGIN does
      // not take the write lock): use theirs.
      *sql_ << "SELECT channel_id FROM channels WHERE dm_key = :k", soci::use(key),
        soci::into(c);
      tx.commit();
      return channel_id{static_cast<uint64_t>(c)};
    }
    c = dialect_.last_channel_id(*sql_);
    long long u = 0;
    soci::statement add
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    for (long long member : {lo, hi}) {
      u = member;
      add.execute(true);
    }
    tx.commit();
    created = true;
    return channel_id{static_cast<uint64_t>(c)};
  });
}

caf::expected<std::vector<user_id>> soci_store::members(workspace_id workspace,
                                                        channel_id channel) {
  using result = caf::expected<std::vector<user_id>>;
  return guarded("members", [&]() -> result {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long u = 0;
    std::vector<user_id> users;
    soci::statement select
      = (sql_->prepare << "SELECT user_id FROM channel_members"
                          " WHERE workspace_id = :w AND channel_id = :c ORDER BY user_id",
         soci::use(w), soci::use(c), soci::into(u));
    select.execute();
    while (select.fetch())
      users.emplace_back(static_cast<uint64_t>(u));
    return users;
  });
}

caf::expected<bool> soci_store::add_member(workspace_id workspace, channel_id channel,
                                           user_id user) {
  return guarded("add_member", [&]() -> caf::expected<bool> {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long u = to_db(user.value, "user id");
    long long now = now_micros();
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    insert.execute(true);
    return insert.get_affected_rows() > 0;
  });
}

caf::expected<bool> soci_store::remove_member(workspace_id workspace, channel_id channel,
                                              user_id user) {
  return guarded("remove_member", [&]() -> caf::expected<bool> {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long u = to_db(user.value, "user id");
    soci::statement remove
      = (sql_->prepare << "DELETE FROM channel_members"
                          " WHERE workspace_id = :w AND channel_id = :c AND user_id = :u",
         soci::use(w), soci::use(c), soci::use(u));
    remove.execute(true);
    return remove.get_affected_rows() > 0;
  });
}

caf::expected<std::vector<channel_id>> soci_store::channels_of(workspace_id workspace,
                                                               user_id user) {
  using result = caf::expected<std::vector<channel_id>>;
  return guarded("channels_of", [&]() -> result {
    long long w = to_db(workspace.value, "workspace id");
    long long u = to_db(user.value, "user id");
    long long c = 0;
    std::vector<channel_id> channels;
    soci::statement select
      = (sql_->prepare << "SELECT channel_id FROM channel_members"
                          " WHERE workspace_id = :w AND user_id = :u ORDER BY channel_id",
         soci::use(w), soci::use(u), soci::into(c));
    select.execute();
    while (select.fetch())
      channels.emplace_back(static_cast<uint64_t>(c));
    return channels;
  });
}

} // namespace parley::storage
