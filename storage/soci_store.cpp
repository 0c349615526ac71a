#include "storage/soci_store.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <utility>

#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#ifdef PARLEY_HAVE_SOCI_POSTGRESQL
#include <soci/postgresql/soci-postgresql.h>
#endif
#ifdef PARLEY_HAVE_SOCI_MYSQL
#include <soci/mysql/soci-mysql.h>
#endif

#include "protocol/client_frame.hpp"
#include "protocol/clock.hpp"
#include "storage/errors.hpp"
#include "storage/shard_map.hpp"

namespace parley::storage {

// -- SQL dialects --------------------------------------------------------------
//
// Everything that differs between SQL backends lives in this struct and its instances, one
// per linked SOCI backend. The semantics are the same on all of them (tests/storage runs one
// suite against each):
// - ts and the *_at columns: integer microseconds since the Unix epoch in the API. SQLite
//   stores that integer (BIGINT); the servers store TIMESTAMP(6) (PostgreSQL, without time
//   zone) and DATETIME(6) (MySQL: its TIMESTAMP ends in 2038 and follows the session time
//   zone), both holding UTC wall time, so other services read real timestamps. `ts_in` and
//   `ts_out` convert exactly (on PostgreSQL up to 2^53 us, about the year 2255).
// - insert-or-ignore skips a row that conflicts with the primary key or a unique key, and
//   fails on every other error: `ON CONFLICT DO NOTHING` (SQLite, PostgreSQL, 0 rows
//   affected). MySQL has `INSERT IGNORE`, which also turns other errors (truncation, NULL
//   into NOT NULL) into warnings and stores a mangled row; `mysql_inserted` reads the
//   statement's warning count (free: it comes with the OK packet) and fails the statement
//   unless its only warnings are duplicate keys. (A no-op `ON DUPLICATE KEY UPDATE` cannot
//   tell a conflict from an insert: SOCI connects with CLIENT_FOUND_ROWS, so both count 1.)
// - dedup keys (client_msg_id, dm_key) compare byte for byte: MySQL stores them as
//   VARBINARY, since its string collations fold case or ignore trailing spaces.
// - channel ids: AUTOINCREMENT / BIGSERIAL / AUTO_INCREMENT; never reused, but the servers
//   may leave gaps (a conflicting insert still consumes an id).
// - isolation: READ COMMITTED on the servers (MySQL's default REPEATABLE READ would hide a
//   DM created concurrently from the re-read in `open_dm`).

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
  /// unless it conflicts with the primary key or a unique constraint (see `inserted`).
  std::string insert_ignore_head;
  std::string insert_ignore_tail;
  /// Tells whether the insert-or-ignore `insert` just executed stored its row (true) or
  /// skipped it for a key conflict (false); throws on anything else.
  bool (*inserted)(soci::session& sql, soci::statement& insert);
  /// SQL converting a parameter holding integer microseconds into a timestamp column value.
  std::string (*ts_in)(const std::string& param);
  /// SQL converting a timestamp column back into integer microseconds.
  std::string (*ts_out)(const std::string& column);
  /// Returns the id of the channel inserted last by this session.
  long long (*last_channel_id)(soci::session& sql);
  /// Makes the next allocated channel id at least `first` (> 1); never lowers the counter
  /// below a stored id. Gives each shard its own id range (storage/shard_map.hpp).
  void (*reserve_channel_ids)(soci::session& sql, long long first);

  std::string insert_ignore(const std::string& into_values) const {
    return insert_ignore_head + " " + into_values + insert_ignore_tail;
  }
};

namespace {

/// The last exported seq per channel and export stream (storage/event_export.hpp): advanced
/// only after the stream acknowledged every message up to it, so a restart resumes there.
const std::string export_cursors_ddl = "CREATE TABLE IF NOT EXISTS export_cursors ("
                                       " stream VARCHAR(128) NOT NULL,"
                                       " workspace_id BIGINT NOT NULL,"
                                       " channel_id BIGINT NOT NULL,"
                                       " last_seq BIGINT NOT NULL,"
                                       " PRIMARY KEY (stream, workspace_id, channel_id))";

bool affected_a_row(soci::session&, soci::statement& insert) {
  return insert.get_affected_rows() > 0;
}

void configure_sqlite(soci::session& sql, sync_mode mode) {
  // Set first, so that switching the journal mode waits for other connections' locks.
  sql << "PRAGMA busy_timeout=5000";
  std::string journal;
  // Switching a new file to WAL needs an exclusive lock, and SQLite fails at once with
  // SQLITE_BUSY (no busy handler) while another connection opens the same file: retry.
  for (int attempt = 1;; ++attempt) {
    try {
      sql << "PRAGMA journal_mode=WAL", soci::into(journal);
      break;
    } catch (const soci::sqlite3_soci_error& e) {
      if (e.result() != SQLITE_BUSY || attempt == 500)
        throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::transform(journal.begin(), journal.end(), journal.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // An in-memory database reports "memory": it has nothing to make durable anyway.
  if (journal != "wal" && journal != "memory")
    throw std::runtime_error("cannot switch SQLite to WAL (journal_mode is " + journal + ")");
  // docs/protocol.md "Durability": NORMAL in WAL survives kill -9; FULL fsyncs every commit.
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
    export_cursors_ddl,
  },
  // A deferred transaction that reads first can fail with SQLITE_BUSY without waiting when
  // another connection commits in between; IMMEDIATE waits for the write lock at BEGIN.
  "BEGIN IMMEDIATE",
  "INSERT INTO",
  " ON CONFLICT DO NOTHING", // SQLite >= 3.24
  &affected_a_row,
  [](const std::string& param) { return param; },
  [](const std::string& column) { return column; },
  [](soci::session& sql) {
    long long id = 0;
    if (!sql.get_last_insert_id("channels", id))
      throw std::runtime_error("cannot read the new channel id");
    return id;
  },
  [](soci::session& sql, long long first) {
    // AUTOINCREMENT allocates max(sqlite_sequence.seq, MAX(rowid)) + 1; the DDL created the
    // sqlite_sequence table, its 'channels' row appears with the first insert.
    long long below = first - 1, below2 = below, below3 = below;
    sql << "UPDATE sqlite_sequence SET seq = :b WHERE name = 'channels' AND seq < :b2",
      soci::use(below), soci::use(below2);
    sql << "INSERT INTO sqlite_sequence (name, seq) SELECT 'channels', :b WHERE NOT EXISTS"
           " (SELECT 1 FROM sqlite_sequence WHERE name = 'channels')",
      soci::use(below3);
  },
};

#ifdef PARLEY_HAVE_SOCI_POSTGRESQL
void configure_postgresql(soci::session& sql, sync_mode mode) {
  // docs/protocol.md "Durability": a commit returns once its WAL record is flushed on the server,
  // so an ack survives a crash of parleyd, of the server and a power loss, for `full` and
  // `normal` alike (`off` could lose acked messages when the server crashes).
  sql << "SET synchronous_commit = on";
  sql << "SET lock_timeout = '5s'"; // like SQLite's busy_timeout
  sql << "SET client_encoding = 'UTF8'";
  // libpq prints notices to stderr; "relation already exists, skipping" is expected here.
  sql << "SET client_min_messages = warning";
  sql << "SET default_transaction_isolation = 'read committed'";
}

const sql_dialect postgresql_dialect{
  "postgresql",
  &soci::factory_postgresql,
  &configure_postgresql,
  {
    // CREATE ... IF NOT EXISTS races with itself on PostgreSQL (two sessions creating the
    // same new table both insert its catalog rows); this lock serializes schema creation.
    "SELECT pg_advisory_xact_lock(7212509430176501841)",
    "CREATE TABLE IF NOT EXISTS messages ("
    " workspace_id BIGINT NOT NULL,"
    " channel_id BIGINT NOT NULL,"
    " channel_seq BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " client_msg_id VARCHAR(64),"
    " content TEXT,"
    " ts TIMESTAMP(6) NOT NULL,"
    " PRIMARY KEY (workspace_id, channel_id, channel_seq),"
    " UNIQUE (workspace_id, user_id, client_msg_id))",
    "CREATE TABLE IF NOT EXISTS channel_members ("
    " workspace_id BIGINT NOT NULL,"
    " channel_id BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " joined_at TIMESTAMP(6) NOT NULL,"
    " PRIMARY KEY (workspace_id, channel_id, user_id))",
    "CREATE INDEX IF NOT EXISTS channel_members_by_user"
    " ON channel_members (workspace_id, user_id, channel_id)",
    "CREATE TABLE IF NOT EXISTS channels ("
    " channel_id BIGSERIAL PRIMARY KEY,"
    " workspace_id BIGINT NOT NULL,"
    " name TEXT NOT NULL,"
    " dm_key VARCHAR(64) UNIQUE,"
    " created_at TIMESTAMP(6) NOT NULL)",
    export_cursors_ddl,
  },
  // Row locks and unique-index waits serialize conflicting writers; no table lock needed.
  "BEGIN",
  "INSERT INTO",
  " ON CONFLICT DO NOTHING",
  &affected_a_row,
  // BIGINT * INTERVAL multiplies in float8: exact below 2^53 us, unlike float seconds.
  [](const std::string& param) {
    return "(TIMESTAMP '1970-01-01' + CAST(" + param + " AS BIGINT) * INTERVAL '1 microsecond')";
  },
  [](const std::string& column) {
    return "CAST(EXTRACT(EPOCH FROM " + column + ") * 1000000 AS BIGINT)";
  },
  [](soci::session& sql) {
    // currval is per session: other sessions' inserts do not move it.
    long long id = 0;
    sql << "SELECT currval(pg_get_serial_sequence('channels', 'channel_id'))", soci::into(id);
    return id;
  },
  [](soci::session& sql, long long first) {
    // NULL until the sequence is first used.
    long long last = 0;
    soci::indicator ind = soci::i_null;
    sql << "SELECT pg_sequence_last_value("
           "CAST(pg_get_serial_sequence('channels', 'channel_id') AS regclass))",
      soci::into(last, ind);
    if (ind == soci::i_ok && last >= first - 1)
      return;
    long long below = first - 1, set = 0;
    sql << "SELECT setval(pg_get_serial_sequence('channels', 'channel_id'), :b)",
      soci::use(below), soci::into(set);
  },
};
#endif

#ifdef PARLEY_HAVE_SOCI_MYSQL
void configure_mysql(soci::session& sql, sync_mode mode) {
  // Strict: a value that does not fit fails the statement instead of being stored mangled.
  sql << "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
         "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";
  sql << "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
  sql << "SET SESSION innodb_lock_wait_timeout = 5"; // like SQLite's busy_timeout
  sql << "SET NAMES utf8mb4";
  // docs/protocol.md "Durability": InnoDB's flush per commit is a server setting
  // (innodb_flush_log_at_trx_commit, global). Any value survives a crash of parleyd
  // (`normal`); only 1 survives a power loss, so `full` refuses a server set otherwise.
  if (mode == sync_mode::full) {
    long long flush = 1;
    soci::indicator ind = soci::i_ok;
    sql << "SELECT @@innodb_flush_log_at_trx_commit", soci::into(flush, ind);
    if (ind == soci::i_ok && flush != 1)
      throw std::runtime_error("storage.sync = full needs innodb_flush_log_at_trx_commit = 1"
                               " on the MySQL server (it is "
                               + std::to_string(flush) + ")");
  }
}

/// `inserted` for `INSERT IGNORE`: only duplicate-key warnings (ER_DUP_ENTRY) are expected.
bool mysql_inserted(soci::session& sql, soci::statement& insert) {
  auto affected = insert.get_affected_rows();
  auto* backend = static_cast<soci::mysql_session_backend*>(sql.get_backend());
  if (mysql_warning_count(backend->conn_) == 0)
    return affected > 0;
  constexpr long long er_dup_entry = 1062;
  std::string level, message;
  long long code = 0;
  soci::statement warnings
    = (sql.prepare << "SHOW WARNINGS", soci::into(level), soci::into(code), soci::into(message));
  warnings.execute();
  std::string unexpected;
  while (warnings.fetch())
    if (level != "Note" && (code != er_dup_entry || affected > 0) && unexpected.empty())
      unexpected = level + " " + std::to_string(code) + ": " + message;
  if (!unexpected.empty())
    throw std::runtime_error("MySQL turned an error into a warning: " + unexpected);
  return affected > 0;
}

const sql_dialect mysql_dialect{
  "mysql",
  &soci::factory_mysql,
  &configure_mysql,
  {
    // MySQL commits implicitly around DDL; CREATE TABLE IF NOT EXISTS is safe to race.
    "CREATE TABLE IF NOT EXISTS messages ("
    " workspace_id BIGINT NOT NULL,"
    " channel_id BIGINT NOT NULL,"
    " channel_seq BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " client_msg_id VARBINARY(64),"
    " content TEXT,"
    " ts DATETIME(6) NOT NULL,"
    " PRIMARY KEY (workspace_id, channel_id, channel_seq),"
    " UNIQUE KEY messages_dedup (workspace_id, user_id, client_msg_id))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS channel_members ("
    " workspace_id BIGINT NOT NULL,"
    " channel_id BIGINT NOT NULL,"
    " user_id BIGINT NOT NULL,"
    " joined_at DATETIME(6) NOT NULL,"
    " PRIMARY KEY (workspace_id, channel_id, user_id),"
    " KEY channel_members_by_user (workspace_id, user_id, channel_id))"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    "CREATE TABLE IF NOT EXISTS channels ("
    " channel_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
    " workspace_id BIGINT NOT NULL,"
    " name TEXT NOT NULL,"
    " dm_key VARBINARY(64) UNIQUE,"
    " created_at DATETIME(6) NOT NULL)"
    " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    export_cursors_ddl + " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
  },
  "START TRANSACTION",
  "INSERT IGNORE INTO",
  "",
  &mysql_inserted,
  [](const std::string& param) {
    return "TIMESTAMPADD(MICROSECOND, " + param + ", CAST('1970-01-01' AS DATETIME(6)))";
  },
  [](const std::string& column) {
    return "TIMESTAMPDIFF(MICROSECOND, CAST('1970-01-01' AS DATETIME(6)), " + column + ")";
  },
  [](soci::session& sql) {
    long long id = 0;
    sql << "SELECT LAST_INSERT_ID()", soci::into(id);
    return id;
  },
  [](soci::session& sql, long long first) {
    // InnoDB raises a value at or below MAX(channel_id) to MAX + 1: it never lowers past a
    // stored id. (DDL: commits implicitly.)
    sql << "ALTER TABLE channels AUTO_INCREMENT = " + std::to_string(first);
  },
};
#endif

const sql_dialect* const dialects[] = {
  &sqlite_dialect,
#ifdef PARLEY_HAVE_SOCI_POSTGRESQL
  &postgresql_dialect,
#endif
#ifdef PARLEY_HAVE_SOCI_MYSQL
  &mysql_dialect,
#endif
};

/// The names of the linked backends, for error messages.
std::string linked_backends() {
  std::string names;
  for (auto* d : dialects)
    names += (names.empty() ? "" : ", ") + std::string(d->backend);
  return names;
}

/// A request that cannot be stored; surfaces as `errc::invalid`.
struct invalid_request : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// Converts an id or seq to the signed BIGINT the database stores (docs/protocol.md "Identifiers":
/// 1 ... 2^63-1).
long long to_db(uint64_t value, const char* what) {
  if (value > static_cast<uint64_t>(std::numeric_limits<long long>::max()))
    throw invalid_request(std::string(what) + " exceeds 2^63-1");
  return static_cast<long long>(value);
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

// The schemas above declare client_msg_id VARCHAR(64) / VARBINARY(64).
static_assert(max_client_msg_id == 64, "client_msg_id columns must match the protocol limit");

} // namespace

std::string redact_connection(const std::string& connection) {
  auto pos = connection.find("password=");
  if (pos == std::string::npos)
    return connection;
  auto end = connection.find(' ', pos);
  return connection.substr(0, pos) + "password=***"
         + (end == std::string::npos ? "" : connection.substr(end));
}

// -- construction ----------------------------------------------------------------

soci_store::soci_store(std::unique_ptr<soci::session> sql, const sql_dialect& dialect,
                       size_t shard)
  : sql_(std::move(sql)), dialect_(dialect), shard_(shard) {
}

long long soci_store::checked_channel_id(long long allocated) const {
  auto id = static_cast<uint64_t>(allocated);
  if (allocated <= 0 || id < shard_map::first_channel(shard_).value
      || id > shard_map::last_channel(shard_).value)
    throw invalid_request("allocated channel id " + std::to_string(allocated)
                          + " is outside the id range of storage shard " + std::to_string(shard_)
                          + " (range exhausted?)");
  return allocated;
}

soci_store::~soci_store() = default;

namespace {

/// A connection string split into its linked dialect and the backend's parameters.
struct parsed_connection {
  const sql_dialect* dialect = nullptr;
  std::string parameters;
};

caf::expected<parsed_connection> parse_connection(const std::string& connection) {
  auto sep = connection.find("://");
  if (sep == std::string::npos || sep == 0)
    return make_error(errc::invalid, "storage connection must look like backend://parameters, got '"
                                       + redact_connection(connection) + "'");
  auto backend = std::string_view{connection}.substr(0, sep);
  parsed_connection parsed;
  parsed.parameters = connection.substr(sep + 3);
  for (auto* d : dialects)
    if (d->backend == backend)
      parsed.dialect = d;
  if (parsed.dialect == nullptr)
    return make_error(errc::invalid, "storage backend '" + std::string(backend)
                                       + "' is not linked into this build (have: "
                                       + linked_backends() + ")");
  return parsed;
}

/// Opens a session with the statically linked factory (no dynamic backend loading).
std::unique_ptr<soci::session> connect(const parsed_connection& parsed) {
  auto sql = std::make_unique<soci::session>();
  sql->open(*parsed.dialect->factory(), parsed.parameters);
  return sql;
}

} // namespace

caf::expected<std::unique_ptr<soci_store>> open_soci_store(const std::string& connection,
                                                           sync_mode mode, size_t shard) {
  if (shard >= shard_map::max_shards)
    return make_error(errc::invalid, "storage shard index " + std::to_string(shard)
                                       + " is beyond the channel id space");
  auto parsed = parse_connection(connection);
  if (!parsed)
    return std::move(parsed.error());
  using result = caf::expected<std::unique_ptr<soci_store>>;
  auto context = "open " + redact_connection(connection);
  return guarded(context.c_str(), [&]() -> result {
    auto& dialect = *parsed->dialect;
    auto sql = connect(*parsed);
    dialect.configure(*sql, mode);
    // Idempotent; the write lock serializes stores opening the same new database.
    write_transaction tx{*sql, dialect};
    for (auto& statement : dialect.ddl)
      *sql << statement;
    // The shard's channel id range (storage/shard_map.hpp): a database holding ids of another
    // range belongs to another index, so the shard list was reordered — refuse it, since its
    // workspaces would be looked for elsewhere.
    auto first = static_cast<long long>(shard_map::first_channel(shard).value);
    auto last = static_cast<long long>(shard_map::last_channel(shard).value);
    long long lo = 0, hi = 0;
    *sql << "SELECT COALESCE(MIN(channel_id), 0), COALESCE(MAX(channel_id), 0) FROM channels",
      soci::into(lo), soci::into(hi);
    if (hi != 0 && (lo < first || hi > last))
      throw invalid_request("this database holds channel ids C" + std::to_string(lo) + " ... C"
                            + std::to_string(hi) + " of storage shard "
                            + std::to_string(shard_map::shard_of_channel(channel_id{
                              static_cast<uint64_t>(lo)}))
                            + ", not of shard " + std::to_string(shard)
                            + ": a shard must keep its index in the configuration");
    if (hi == 0 && first > 1)
      dialect.reserve_channel_ids(*sql, first);
    tx.commit();
    return std::unique_ptr<soci_store>{new soci_store(std::move(sql), dialect, shard)};
  });
}

caf::error execute_sql(const std::string& connection, const std::vector<std::string>& statements) {
  auto parsed = parse_connection(connection);
  if (!parsed)
    return std::move(parsed.error());
  auto context = "execute_sql on " + redact_connection(connection);
  auto done = guarded(context.c_str(), [&]() -> caf::expected<void> {
    auto sql = connect(*parsed);
    for (auto& statement : statements)
      *sql << statement;
    return {};
  });
  return done ? caf::error{} : std::move(done.error());
}

caf::expected<long long> query_integer(const std::string& connection, const std::string& query) {
  auto parsed = parse_connection(connection);
  if (!parsed)
    return std::move(parsed.error());
  auto context = "query_integer on " + redact_connection(connection);
  return guarded(context.c_str(), [&]() -> caf::expected<long long> {
    auto sql = connect(*parsed);
    long long value = 0;
    soci::indicator ind = soci::i_ok;
    *sql << query, soci::into(value, ind);
    if (!sql->got_data() || ind != soci::i_ok)
      return make_error(errc::not_found, "query returned no value: " + query);
    return value;
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
        throw invalid_request("client_msg_id longer than " + std::to_string(max_client_msg_id)
                              + " bytes");
    }
    long long workspace = 0, channel = 0, seq = 0, user = 0, ts = 0;
    std::string client_msg_id, text;
    soci::indicator client_msg_id_ind = soci::i_ok;
    // Group commit: one transaction per batch (docs/architecture.md "Group commit").
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
      if (!dialect_.inserted(*sql_, insert)) {
        // Nothing inserted: either the dedup key exists (possibly from earlier in this very
        // batch, which this transaction sees) or the seq is taken — the primary key fences
        // a stale second writer of the channel (docs/architecture.md "Group commit").
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
    long long now = now_us();
    write_transaction tx{*sql_, dialect_};
    *sql_ << "INSERT INTO channels (workspace_id, name, dm_key, created_at)"
             " VALUES (:w, :n, NULL, " + dialect_.ts_in(":t") + ")",
      soci::use(w), soci::use(name), soci::use(now);
    long long c = checked_channel_id(dialect_.last_channel_id(*sql_));
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
      dialect_.inserted(*sql_, insert);
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
    long long now = now_us();
    std::string empty_name;
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channels (workspace_id, name, dm_key, created_at)"
           " VALUES (:w, :n, :k, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(empty_name), soci::use(key), soci::use(now));
    insert.execute(true);
    if (!dialect_.inserted(*sql_, insert)) {
      // Another store created it after our SELECT (possible on backends whose BEGIN does
      // not take the write lock): use theirs.
      *sql_ << "SELECT channel_id FROM channels WHERE dm_key = :k", soci::use(key),
        soci::into(c);
      tx.commit();
      return channel_id{static_cast<uint64_t>(c)};
    }
    c = checked_channel_id(dialect_.last_channel_id(*sql_));
    long long u = 0;
    soci::statement add
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    for (long long member : {lo, hi}) {
      u = member;
      add.execute(true);
      dialect_.inserted(*sql_, add);
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
    long long now = now_us();
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    insert.execute(true);
    return dialect_.inserted(*sql_, insert);
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

caf::expected<std::vector<channel_summary>> soci_store::list_channels(workspace_id workspace,
                                                                      user_id user) {
  using result = caf::expected<std::vector<channel_summary>>;
  return guarded("list_channels", [&]() -> result {
    long long w = to_db(workspace.value, "workspace id");
    long long u = to_db(user.value, "user id");
    std::vector<channel_summary> list;
    long long c = 0, latest = 0, dm = 0;
    std::string name;
    // The latest seq is one probe of the messages primary key per channel.
    soci::statement select
      = (sql_->prepare << "SELECT m.channel_id, c.name,"
                          " CASE WHEN c.dm_key IS NULL THEN 0 ELSE 1 END,"
                          " COALESCE((SELECT MAX(x.channel_seq) FROM messages x"
                          " WHERE x.workspace_id = m.workspace_id"
                          " AND x.channel_id = m.channel_id), 0)"
                          " FROM channel_members m JOIN channels c ON c.channel_id = m.channel_id"
                          " WHERE m.workspace_id = :w AND m.user_id = :u ORDER BY m.channel_id",
         soci::use(w), soci::use(u), soci::into(c), soci::into(name), soci::into(dm),
         soci::into(latest));
    select.execute();
    bool any_dm = false;
    while (select.fetch()) {
      channel_summary s;
      s.id = channel_id{static_cast<uint64_t>(c)};
      s.name = name;
      s.latest_seq = static_cast<uint64_t>(latest);
      s.is_dm = dm != 0;
      any_dm = any_dm || s.is_dm;
      list.push_back(std::move(s));
    }
    if (!any_dm)
      return list;
    // The members of the user's DMs, so a list can name a DM after the other member.
    long long member = 0;
    soci::statement dm_members
      = (sql_->prepare << "SELECT o.channel_id, o.user_id FROM channel_members m"
                          " JOIN channels c ON c.channel_id = m.channel_id"
                          " JOIN channel_members o ON o.workspace_id = m.workspace_id"
                          " AND o.channel_id = m.channel_id"
                          " WHERE m.workspace_id = :w AND m.user_id = :u"
                          " AND c.dm_key IS NOT NULL ORDER BY o.channel_id, o.user_id",
         soci::use(w), soci::use(u), soci::into(c), soci::into(member));
    dm_members.execute();
    while (dm_members.fetch()) {
      auto id = channel_id{static_cast<uint64_t>(c)};
      auto it = std::lower_bound(list.begin(), list.end(), id,
                                 [](const channel_summary& s, channel_id x) { return s.id < x; });
      if (it != list.end() && it->id == id && it->is_dm)
        it->members.emplace_back(static_cast<uint64_t>(member));
    }
    return list;
  });
}

// -- export_log ----------------------------------------------------------------------

caf::expected<std::vector<chat_message>>
soci_store::read_unexported(const std::string& stream, workspace_id from_workspace,
                            channel_id from_channel, uint32_t limit) {
  using result = caf::expected<std::vector<chat_message>>;
  return guarded("read_unexported", [&]() -> result {
    std::vector<chat_message> messages;
    long long w = to_db(from_workspace.value, "workspace id");
    long long c = to_db(from_channel.value, "channel id");
    long long n = limit;
    if (n == 0)
      return messages;
    // New channels get a cursor at 0. Exporting from the cursor table keeps each poll at one
    // primary-key range probe per channel instead of a scan of the message table.
    std::string s1 = stream, s2 = stream;
    *sql_ << "INSERT INTO export_cursors (stream, workspace_id, channel_id, last_seq)"
             " SELECT :s, ch.workspace_id, ch.channel_id, 0 FROM channels ch WHERE NOT EXISTS"
             " (SELECT 1 FROM export_cursors x WHERE x.stream = :s2"
             " AND x.workspace_id = ch.workspace_id AND x.channel_id = ch.channel_id)",
      soci::use(s1), soci::use(s2);
    long long w2 = w;
    message_row row;
    soci::statement select
      = (sql_->prepare << "SELECT m.workspace_id, m.channel_id, m.channel_seq, m.user_id,"
                          " m.client_msg_id, m.content, " + dialect_.ts_out("m.ts")
                            + " FROM export_cursors x JOIN messages m"
                              " ON m.workspace_id = x.workspace_id AND m.channel_id = x.channel_id"
                              " AND m.channel_seq > x.last_seq"
                              " WHERE x.stream = :s AND (x.workspace_id > :w"
                              " OR (x.workspace_id = :w2 AND x.channel_id > :c))"
                              " ORDER BY x.workspace_id, x.channel_id, m.channel_seq LIMIT :n",
         soci::use(s1), soci::use(w), soci::use(w2), soci::use(c), soci::use(n),
         soci::into(row.workspace), soci::into(row.channel), soci::into(row.seq),
         soci::into(row.user), soci::into(row.client_msg_id, row.client_msg_id_ind),
         soci::into(row.text, row.text_ind), soci::into(row.ts));
    select.execute();
    while (select.fetch())
      messages.push_back(row.to_message());
    return messages;
  });
}

caf::error soci_store::advance_cursors(const std::string& stream,
                                       const std::vector<export_cursor>& cursors) {
  auto done = guarded("advance_cursors", [&]() -> caf::expected<void> {
    if (cursors.empty())
      return {};
    std::string s = stream;
    long long w = 0, c = 0, q = 0, q2 = 0;
    write_transaction tx{*sql_, dialect_};
    // `last_seq < :q2`: a cursor never moves back (a late, smaller report is a no-op).
    soci::statement update
      = (sql_->prepare << "UPDATE export_cursors SET last_seq = :q WHERE stream = :s"
                          " AND workspace_id = :w AND channel_id = :c AND last_seq < :q2",
         soci::use(q), soci::use(s), soci::use(w), soci::use(c), soci::use(q2));
    for (auto& cur : cursors) {
      w = to_db(cur.workspace.value, "workspace id");
      c = to_db(cur.channel.value, "channel id");
      q = q2 = to_db(cur.last_seq, "last_seq");
      update.execute(true);
    }
    tx.commit();
    return {};
  });
  return done ? caf::error{} : std::move(done.error());
}

caf::expected<std::vector<export_cursor>> soci_store::cursors(const std::string& stream) {
  using result = caf::expected<std::vector<export_cursor>>;
  return guarded("cursors", [&]() -> result {
    std::vector<export_cursor> out;
    std::string s = stream;
    long long w = 0, c = 0, q = 0;
    soci::statement select
      = (sql_->prepare << "SELECT workspace_id, channel_id, last_seq FROM export_cursors"
                          " WHERE stream = :s ORDER BY workspace_id, channel_id",
         soci::use(s), soci::into(w), soci::into(c), soci::into(q));
    select.execute();
    while (select.fetch())
      out.push_back(export_cursor{workspace_id{static_cast<uint64_t>(w)},
                                  channel_id{static_cast<uint64_t>(c)},
                                  static_cast<uint64_t>(q)});
    return out;
  });
}

} // namespace parley::storage
