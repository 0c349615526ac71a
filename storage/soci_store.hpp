#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "storage/event_export.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"

// SOCI stays out of this header: only storage/*.cpp include vendor headers.
namespace soci {
class session;
} // namespace soci

namespace parley::storage {

/// How hard a commit waits for the disk (docs/protocol.md "Durability", `storage.sync`).
/// SQLite maps it to `synchronous`; the servers' own settings decide (see `open_soci_store`).
enum class sync_mode {
  normal, // survives a process crash (kill -9); WAL with synchronous=NORMAL
  full,   // also survives power loss: fsync per group commit; synchronous=FULL
};

struct sql_dialect;

/// The message log and membership store on one SQL database through SOCI.
/// Owns one SOCI session and the statements prepared on it, so it is NOT thread-safe: use one
/// instance per thread at a time (each storage actor owns its own). Several
/// instances may share one database (on SQLite: one writer at a time, any number of readers;
/// on PostgreSQL and MySQL: concurrent writers, serialized by row locks).
/// No method throws: every driver failure comes back as a `caf::error` of `errc`.
class soci_store final : public message_log, public membership_store, public export_log {
public:
  ~soci_store() override;

  soci_store(const soci_store&) = delete;
  soci_store& operator=(const soci_store&) = delete;

  // -- message_log ----------------------------------------------------------

  caf::expected<std::vector<append_outcome>>
  append(const std::vector<chat_message>& batch) override;

  caf::expected<std::optional<chat_message>>
  find_sent(workspace_id workspace, user_id user, const std::string& client_msg_id) override;

  caf::expected<uint64_t> latest_seq(workspace_id workspace, channel_id channel) override;

  caf::expected<std::vector<chat_message>> read_after(workspace_id workspace, channel_id channel,
                                                      uint64_t after_seq,
                                                      uint32_t limit) override;

  // -- membership_store -----------------------------------------------------

  caf::expected<std::optional<channel_info>> find_channel(channel_id channel) override;

  caf::expected<channel_id> create_channel(workspace_id workspace, const std::string& name,
                                           const std::vector<user_id>& members) override;

  caf::expected<channel_id> open_dm(workspace_id workspace, user_id a, user_id b,
                                    bool& created) override;

  caf::expected<std::vector<user_id>> members(workspace_id workspace,
                                              channel_id channel) override;

  caf::expected<bool> add_member(workspace_id workspace, channel_id channel,
                                 user_id user) override;

  caf::expected<bool> remove_member(workspace_id workspace, channel_id channel,
                                    user_id user) override;

  caf::expected<std::vector<channel_id>> channels_of(workspace_id workspace,
                                                     user_id user) override;

  caf::expected<std::vector<channel_summary>> list_channels(workspace_id workspace,
                                                            user_id user) override;

  // -- export_log -----------------------------------------------------------

  caf::expected<std::vector<chat_message>> read_unexported(const std::string& stream,
                                                           workspace_id from_workspace,
                                                           channel_id from_channel,
                                                           uint32_t limit) override;

  caf::error advance_cursors(const std::string& stream,
                             const std::vector<export_cursor>& cursors) override;

  caf::expected<std::vector<export_cursor>> cursors(const std::string& stream) override;

private:
  friend caf::expected<std::unique_ptr<soci_store>>
  open_soci_store(const std::string& connection, sync_mode mode, size_t shard);

  soci_store(std::unique_ptr<soci::session> sql, const sql_dialect& dialect, size_t shard);

  /// Fails the transaction unless a freshly allocated channel id is in this shard's range.
  long long checked_channel_id(long long allocated) const;

  std::optional<chat_message> select_sent(long long workspace, long long user,
                                          const std::string& client_msg_id);

  /// The statements of the send path, prepared once on `sql_` (storage/soci_store.cpp).
  struct statements;

  std::unique_ptr<soci::session> sql_;
  const sql_dialect& dialect_;
  size_t shard_; // allocates channel ids in shard_map::first_channel ... last_channel(shard_)
  std::unique_ptr<statements> stmts_; // after sql_: prepared on it, finalized before it closes
};

/// Opens a store from a SOCI connection string, applies the backend's durability settings
/// for `mode` and creates the schema if missing. Linked backends and their strings:
///   sqlite3://db=/path/parley.db
///   postgresql://host=127.0.0.1 port=5432 dbname=parley user=parley password=secret
///   mysql://host=127.0.0.1 port=3306 db=parley user=parley password=secret
/// (the parameters after "://" go to the SOCI backend unchanged). On PostgreSQL both modes
/// commit with synchronous_commit=on; on MySQL the flush per commit is the server's
/// innodb_flush_log_at_trx_commit, and `full` fails unless it is 1.
/// `shard` is the database's index in the shard list (storage/shard_map.hpp): new channels get
/// ids in that shard's range, and a database already holding channel ids of another index is
/// refused (the shard list was reordered).
/// Fails with `errc::invalid` for a malformed string, a backend not linked into this build, a
/// shard index beyond the id space or a database of another shard index.
caf::expected<std::unique_ptr<soci_store>> open_soci_store(const std::string& connection,
                                                           sync_mode mode, size_t shard = 0);

/// `connection` with any `password=...` replaced by `password=***`, for logs and errors.
std::string redact_connection(const std::string& connection);

/// Runs `statements` one by one in autocommit mode on a new session of `connection`, without
/// the store's settings or schema: for administration and fixtures (CREATE DATABASE, ...).
caf::error execute_sql(const std::string& connection, const std::vector<std::string>& statements);

/// Runs a query yielding one integer (such as a COUNT) on a new session of `connection`.
caf::expected<long long> query_integer(const std::string& connection, const std::string& query);

} // namespace parley::storage
