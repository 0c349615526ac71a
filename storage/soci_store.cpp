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
#include "storage/soci_support.hpp"

namespace parley::storage {

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
  // Checkpoint every 8,000 WAL pages (~32 MiB of WAL file) instead of 1,000: the group commit
  // runs the checkpoint inline, and a busy node re-dirties the same index leaves commit after
  // commit, which a checkpoint copies back once however often they changed. +14-21 % durable
  // acks/s with 1,000 channels; 20,000 gained nothing more (bench/RESULTS.md).
  sql << "PRAGMA wal_autocheckpoint=8000";
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

/// SOCI prepares the SQL of every `session <<` and `session.prepare <<` anew (on SQLite,
/// sqlite3_prepare_v2 was most of the allocations and time of a dedup lookup); these run for
/// every message sent, so they are prepared once per connection. A statement reads its `use`
/// variables and writes its `into` variables through the addresses bound here: callers set the
/// members and re-execute, and the struct never moves. Used by one thread at a time, like its
/// store.
struct soci_store::statements {
  statements(soci::session& sql, const sql_dialect& dialect);

  statements(const statements&) = delete;
  statements& operator=(const statements&) = delete;

  // select_sent: the dedup key in, the stored row out.
  long long sent_workspace = 0;
  long long sent_user = 0;
  std::string sent_client_msg_id;
  message_row sent;
  soci::statement select_sent;

  // append: one message row in (insert-or-ignore; see sql_dialect::inserted).
  long long workspace = 0;
  long long channel = 0;
  long long seq = 0;
  long long user = 0;
  std::string client_msg_id;
  soci::indicator client_msg_id_ind = soci::i_ok;
  std::string text;
  long long ts = 0;
  soci::statement insert;
};

soci_store::statements::statements(soci::session& sql, const sql_dialect& dialect)
  : select_sent((sql.prepare << "SELECT " + message_columns(dialect)
                                  + " FROM messages WHERE workspace_id = :w AND user_id = :u"
                                    " AND client_msg_id = :m",
                 soci::use(sent_workspace), soci::use(sent_user), soci::use(sent_client_msg_id),
                 soci::into(sent.workspace), soci::into(sent.channel), soci::into(sent.seq),
                 soci::into(sent.user), soci::into(sent.client_msg_id, sent.client_msg_id_ind),
                 soci::into(sent.text, sent.text_ind), soci::into(sent.ts))),
    insert((sql.prepare << dialect.insert_ignore(
              "messages (workspace_id, channel_id, channel_seq, user_id, client_msg_id,"
              " content, ts) VALUES (:w, :c, :s, :u, :m, :t, "
              + dialect.ts_in(":ts") + ")"),
            soci::use(workspace), soci::use(channel), soci::use(seq), soci::use(user),
            soci::use(client_msg_id, client_msg_id_ind), soci::use(text), soci::use(ts))) {
}

soci_store::soci_store(std::unique_ptr<soci::session> sql, const sql_dialect& dialect,
                       size_t shard)
  : sql_(std::move(sql)),
    dialect_(dialect),
    shard_(shard),
    stmts_(std::make_unique<statements>(*sql_, dialect_)) {
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

soci_store::~soci_store() {
  // Finalizing a statement (SQLite) or deallocating it (PostgreSQL) needs the open session;
  // SQLite would not even close a connection that still has unfinalized statements.
  stmts_.reset();
}

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
  auto& s = *stmts_;
  s.sent_workspace = workspace;
  s.sent_user = user;
  s.sent_client_msg_id = client_msg_id;
  // On a miss the outputs still hold the previous hit: only execute's result tells.
  if (!s.select_sent.execute(true))
    return std::nullopt;
  auto found = s.sent.to_message();
  // Run the statement to its end (the key is unique: no second row). A SQLite statement left
  // on a row keeps its read snapshot, so every later read on this connection would miss newer
  // commits; on the servers this only notes the end of the fetched result.
  while (s.select_sent.fetch()) {
  }
  return found;
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
    // Group commit: one transaction per batch (docs/architecture.md "Group commit").
    write_transaction tx{*sql_, dialect_};
    auto& s = *stmts_; // the prepared insert reads its row from these members
    for (auto& msg : batch) {
      s.workspace = static_cast<long long>(msg.workspace.value);
      s.channel = static_cast<long long>(msg.channel.value);
      s.seq = static_cast<long long>(msg.seq);
      s.user = static_cast<long long>(msg.user.value);
      s.client_msg_id = msg.client_msg_id;
      // No client_msg_id means no dedup: NULLs never collide in the UNIQUE key.
      s.client_msg_id_ind = msg.client_msg_id.empty() ? soci::i_null : soci::i_ok;
      s.text = msg.text;
      s.ts = msg.ts;
      s.insert.execute(true);
      append_outcome outcome;
      if (!dialect_.inserted(*sql_, s.insert)) {
        // Nothing inserted: either the dedup key exists (possibly from earlier in this very
        // batch, which this transaction sees) or the seq is taken — the primary key fences
        // a stale second writer of the channel (docs/architecture.md "Group commit").
        std::optional<chat_message> original;
        if (!msg.client_msg_id.empty())
          original = select_sent(s.workspace, s.user, msg.client_msg_id);
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

} // namespace parley::storage
