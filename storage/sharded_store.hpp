#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "storage/event_export.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"
#include "storage/shard_map.hpp"
#include "storage/soci_store.hpp"

namespace parley::storage {

/// The message log, membership store and export log over N storage shards, one `soci_store`
/// (one database) each (docs/architecture.md "Storage": sharded by workspace_id).
/// Calls keyed by workspace go to `shard_map::shard_of(workspace)`; `find_channel` finds the
/// shard from the channel id's high bits (`shard_map::shard_of_channel`), so every channel id
/// is unique across shards. With one shard it behaves exactly like its `soci_store`.
/// Owns one session per shard: NOT thread-safe, use one instance per thread like soci_store.
class sharded_store final : public message_log, public membership_store, public export_log {
public:
  /// Takes one open store per shard: `shards[i]` must have been opened as shard i.
  sharded_store(shard_map map, std::vector<std::unique_ptr<soci_store>> shards);

  // -- message_log ----------------------------------------------------------

  /// Commits the batch on its workspaces' shard; a batch spanning shards is refused
  /// (`errc::invalid`, nothing stored): split it by `commit_group`.
  caf::expected<std::vector<append_outcome>>
  append(const std::vector<chat_message>& batch) override;

  /// The shard of the row's workspace.
  size_t commit_group(const chat_message& msg) const override;

  caf::expected<std::optional<chat_message>>
  find_sent(workspace_id workspace, user_id user, const std::string& client_msg_id) override;

  caf::expected<uint64_t> latest_seq(workspace_id workspace, channel_id channel) override;

  caf::expected<std::vector<chat_message>> read_after(workspace_id workspace, channel_id channel,
                                                      uint64_t after_seq,
                                                      uint32_t limit) override;

  // -- membership_store -----------------------------------------------------

  /// Asks only the shard named by the id; an id naming no configured shard is not found.
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

  /// Merges every shard's unexported messages in (workspace, channel, seq) order.
  caf::expected<std::vector<chat_message>> read_unexported(const std::string& stream,
                                                           workspace_id from_workspace,
                                                           channel_id from_channel,
                                                           uint32_t limit) override;

  /// Moves each cursor on the shard holding its channel.
  caf::error advance_cursors(const std::string& stream,
                             const std::vector<export_cursor>& cursors) override;

  caf::expected<std::vector<export_cursor>> cursors(const std::string& stream) override;

  // -- shards ---------------------------------------------------------------

  /// The workspace -> shard placement.
  const shard_map& map() const { return map_; }

  /// The store of shard `index` (tests, tools).
  soci_store& shard(size_t index) { return *shards_.at(index); }

private:
  soci_store& of(workspace_id workspace) { return *shards_[map_.shard_of(workspace)]; }

  shard_map map_;
  std::vector<std::unique_ptr<soci_store>> shards_;
};

/// Opens shard i on `connections[i]` (see `open_soci_store`) with `overrides` pinning
/// workspaces to shard indexes. Fails with the first shard that cannot be opened, naming it.
caf::expected<std::unique_ptr<sharded_store>>
open_sharded_store(const std::vector<std::string>& connections,
                   const std::map<workspace_id, size_t>& overrides, sync_mode mode);

} // namespace parley::storage
