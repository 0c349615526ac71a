#include "storage/sharded_store.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <caf/message.hpp>

#include "storage/errors.hpp"

namespace parley::storage {

namespace {

/// The text of a storage error (its context string).
std::string message_of(const caf::error& err) {
  auto& ctx = err.context();
  if (ctx.size() == 1 && ctx.match_element<std::string>(0))
    return ctx.get_as<std::string>(0);
  return caf::to_string(err);
}

bool export_order(const chat_message& a, const chat_message& b) {
  return std::tie(a.workspace.value, a.channel.value, a.seq)
         < std::tie(b.workspace.value, b.channel.value, b.seq);
}

} // namespace

sharded_store::sharded_store(shard_map map, std::vector<std::unique_ptr<soci_store>> shards)
  : map_(std::move(map)), shards_(std::move(shards)) {
  // A broken invariant of the caller (node bootstrap, tests), not bad input.
  if (shards_.size() != map_.size())
    throw std::logic_error("sharded_store: shard_map and store count differ");
}

// -- message_log -------------------------------------------------------------------

caf::expected<std::vector<append_outcome>>
sharded_store::append(const std::vector<chat_message>& batch) {
  if (batch.empty())
    return std::vector<append_outcome>{};
  auto shard = commit_group(batch.front());
  for (auto& msg : batch)
    if (commit_group(msg) != shard)
      return make_error(errc::invalid, "append: a batch spanning storage shards cannot commit in"
                                       " one transaction (split it by commit_group)");
  return shards_[shard]->append(batch);
}

size_t sharded_store::commit_group(const chat_message& msg) const {
  return map_.shard_of(msg.workspace);
}

caf::expected<std::optional<chat_message>>
sharded_store::find_sent(workspace_id workspace, user_id user, const std::string& client_msg_id) {
  return of(workspace).find_sent(workspace, user, client_msg_id);
}

caf::expected<uint64_t> sharded_store::latest_seq(workspace_id workspace, channel_id channel) {
  return of(workspace).latest_seq(workspace, channel);
}

caf::expected<std::vector<chat_message>>
sharded_store::read_after(workspace_id workspace, channel_id channel, uint64_t after_seq,
                          uint32_t limit) {
  return of(workspace).read_after(workspace, channel, after_seq, limit);
}

// -- membership_store ----------------------------------------------------------------

caf::expected<std::optional<channel_info>> sharded_store::find_channel(channel_id channel) {
  auto shard = shard_map::shard_of_channel(channel);
  if (shard >= shards_.size())
    return std::optional<channel_info>{}; // a well-formed id no shard allocated
  auto found = shards_[shard]->find_channel(channel);
  if (!found || !*found)
    return found;
  // Its workspace's other data is looked for on the workspace's shard: a mismatch means the
  // placement changed (an override or the shard count) without moving the data.
  auto expected_shard = map_.shard_of((*found)->workspace);
  if (expected_shard != shard)
    return make_error(errc::invalid, "find_channel: " + channel.str() + " of "
                                       + (*found)->workspace.str() + " is stored on shard "
                                       + std::to_string(shard) + " but the workspace maps to shard "
                                       + std::to_string(expected_shard)
                                       + " (placement changed without migrating the workspace)");
  return found;
}

caf::expected<channel_id> sharded_store::create_channel(workspace_id workspace,
                                                        const std::string& name,
                                                        const std::vector<user_id>& members) {
  return of(workspace).create_channel(workspace, name, members);
}

caf::expected<channel_id> sharded_store::open_dm(workspace_id workspace, user_id a, user_id b,
                                                 bool& created) {
  return of(workspace).open_dm(workspace, a, b, created);
}

caf::expected<std::vector<user_id>> sharded_store::members(workspace_id workspace,
                                                           channel_id channel) {
  return of(workspace).members(workspace, channel);
}

caf::expected<bool> sharded_store::add_member(workspace_id workspace, channel_id channel,
                                              user_id user) {
  return of(workspace).add_member(workspace, channel, user);
}

caf::expected<bool> sharded_store::remove_member(workspace_id workspace, channel_id channel,
                                                 user_id user) {
  return of(workspace).remove_member(workspace, channel, user);
}

caf::expected<std::vector<channel_id>> sharded_store::channels_of(workspace_id workspace,
                                                                  user_id user) {
  return of(workspace).channels_of(workspace, user);
}

caf::expected<std::vector<channel_summary>> sharded_store::list_channels(workspace_id workspace,
                                                                         user_id user) {
  return of(workspace).list_channels(workspace, user);
}

// -- export_log ----------------------------------------------------------------------

caf::expected<std::vector<chat_message>>
sharded_store::read_unexported(const std::string& stream, workspace_id from_workspace,
                               channel_id from_channel, uint32_t limit) {
  if (shards_.size() == 1)
    return shards_[0]->read_unexported(stream, from_workspace, from_channel, limit);
  // Each shard returns its first `limit` rows after the start channel in the same order, so
  // the first `limit` of the merge are the first `limit` overall.
  std::vector<chat_message> merged;
  for (auto& shard : shards_) {
    auto rows = shard->read_unexported(stream, from_workspace, from_channel, limit);
    if (!rows)
      return rows;
    merged.insert(merged.end(), std::make_move_iterator(rows->begin()),
                  std::make_move_iterator(rows->end()));
  }
  std::sort(merged.begin(), merged.end(), export_order);
  if (merged.size() > limit)
    merged.resize(limit);
  return merged;
}

caf::error sharded_store::advance_cursors(const std::string& stream,
                                          const std::vector<export_cursor>& cursors) {
  std::map<size_t, std::vector<export_cursor>> per_shard;
  for (auto& cur : cursors) {
    auto shard = shard_map::shard_of_channel(cur.channel);
    if (shard >= shards_.size())
      return make_error(errc::invalid, "advance_cursors: " + cur.channel.str()
                                         + " names no configured shard");
    per_shard[shard].push_back(cur);
  }
  for (auto& [shard, list] : per_shard)
    if (auto err = shards_[shard]->advance_cursors(stream, list))
      return err;
  return {};
}

caf::expected<std::vector<export_cursor>> sharded_store::cursors(const std::string& stream) {
  std::vector<export_cursor> all;
  for (auto& shard : shards_) {
    auto list = shard->cursors(stream);
    if (!list)
      return list;
    all.insert(all.end(), list->begin(), list->end());
  }
  std::sort(all.begin(), all.end(), [](const export_cursor& a, const export_cursor& b) {
    return std::tie(a.workspace.value, a.channel.value)
           < std::tie(b.workspace.value, b.channel.value);
  });
  return all;
}

// -- opening -------------------------------------------------------------------------

caf::expected<std::unique_ptr<sharded_store>>
open_sharded_store(const std::vector<std::string>& connections,
                   const std::map<workspace_id, size_t>& overrides, sync_mode mode) {
  auto map = shard_map::make(connections.size(), overrides);
  if (!map)
    return std::move(map.error());
  std::vector<std::unique_ptr<soci_store>> shards;
  for (size_t i = 0; i < connections.size(); ++i) {
    auto store = open_soci_store(connections[i], mode, i);
    if (!store)
      return make_error(static_cast<errc>(store.error().code()),
                        "storage shard " + std::to_string(i) + ": "
                          + message_of(store.error()));
    shards.push_back(std::move(*store));
  }
  return std::make_unique<sharded_store>(std::move(*map), std::move(shards));
}

} // namespace parley::storage
