#pragma once

#include <map>
#include <unordered_map>
#include <vector>

#include "actors/channel_fanout.hpp"

namespace parley {

/// Who of a channel is online on which node, and the presence.update frames that follow
/// from it (docs/protocol.md "Rules", presence): a member is online while any node reports
/// it online, away while it is away everywhere it is connected. Owned by the channel state.
struct channel_presence {
  /// user -> status per node gateway.
  std::unordered_map<user_id, std::map<gateway_actor, presence_status>> online;
  /// gateway -> how many users are online there; the fan-out goes to these gateways.
  std::map<gateway_actor, size_t> gateways;
  /// Coalesced updates of big channels, flushed once per second.
  std::map<user_id, presence_status> backlog;
  bool flush_scheduled = false;
};

/// Sets a user's status on one gateway (offline detaches it) and publishes the transition.
void set_member_status(channel_self self, user_id user, const gateway_actor& gw,
                       presence_status status);

/// Forgets a removed member on every gateway, without a presence.update.
void drop_member(channel_self self, user_id user);

/// A node went down: its gateway's users go offline.
void drop_gateway(channel_self self, const caf::actor_addr& gateway);

/// The online and away members, by user id (presence.get).
std::vector<presence_entry> present_members(const channel_state& st);

/// The presence flush tick of big channels.
void on_presence_flush(channel_self self);

} // namespace parley
