#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "protocol/ids.hpp"

namespace parley::storage {

/// A channel or DM as stored.
struct channel_info {
  channel_id id;
  workspace_id workspace;
  std::string name; // empty for a DM
  bool is_dm = false;
};

/// A channel as a member's channel list shows it (GET /v1/channels).
struct channel_summary {
  channel_id id;
  std::string name;             // as stored: empty for a DM
  uint64_t latest_seq = 0;      // the newest stored seq, 0 before the first message
  bool is_dm = false;
  std::vector<user_id> members; // a DM's members, ascending (empty for other channels)
};

/// Channels and their members. Blocking and single-threaded like `message_log`.
class membership_store {
public:
  virtual ~membership_store() = default;

  /// Looks a channel up by id (ids are unique across workspaces).
  virtual caf::expected<std::optional<channel_info>> find_channel(channel_id channel) = 0;

  /// Creates a channel with its initial members; returns the server-allocated id.
  virtual caf::expected<channel_id> create_channel(workspace_id workspace, const std::string& name,
                                                   const std::vector<user_id>& members) = 0;

  /// Returns the DM channel of the unordered pair {a, b}, creating it on first use.
  /// `created` is set to true when this call created it.
  virtual caf::expected<channel_id> open_dm(workspace_id workspace, user_id a, user_id b,
                                            bool& created) = 0;

  /// Lists the members of a channel.
  virtual caf::expected<std::vector<user_id>> members(workspace_id workspace,
                                                      channel_id channel) = 0;

  /// Adds a member; returns false when it already was one (a no-op).
  virtual caf::expected<bool> add_member(workspace_id workspace, channel_id channel,
                                         user_id user) = 0;

  /// Removes a member; returns false when it was not one.
  virtual caf::expected<bool> remove_member(workspace_id workspace, channel_id channel,
                                            user_id user) = 0;

  /// Lists the channels a user is a member of, ascending by id.
  virtual caf::expected<std::vector<channel_id>> channels_of(workspace_id workspace,
                                                             user_id user) = 0;

  /// Lists the channels a user is a member of, ascending by id, with their names and latest
  /// seqs (and, for DMs, their members).
  virtual caf::expected<std::vector<channel_summary>> list_channels(workspace_id workspace,
                                                                    user_id user) = 0;
};

} // namespace parley::storage
