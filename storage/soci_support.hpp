#pragma once

// What the parts of soci_store share (storage/soci_store.cpp: connections, dialects, the
// message log; storage/soci_membership.cpp: channels and members; storage/soci_export_log.cpp:
// export reads and cursors). Internal to storage/: no other folder includes it.

#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <soci/soci.h>

#include "storage/errors.hpp"
#include "storage/soci_store.hpp"

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

/// A request that cannot be stored; surfaces as `errc::invalid`.
struct invalid_request : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

/// Converts an id or seq to the signed BIGINT the database stores (docs/protocol.md "Identifiers":
/// 1 ... 2^63-1).
inline long long to_db(uint64_t value, const char* what) {
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

inline std::string message_columns(const sql_dialect& d) {
  return "workspace_id, channel_id, channel_seq, user_id, client_msg_id, content, "
         + d.ts_out("ts");
}

} // namespace parley::storage
