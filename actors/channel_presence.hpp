#pragma once

#include <map>
#include <unordered_map>
#include <vector>

#include "actors/channel_fanout.hpp"
#include "actors/user_presence.hpp"

namespace parley {

/// Who of a channel is online on which node, and the presence.update frames that follow
/// from it (docs/protocol.md "Rules", presence). Presence is per user, whatever node each of its
/// connections is on: a member is online while connected on any node, away when its latest
/// presence.set (on any node) said away, offline when no node has it. Owned by the channel state.
struct channel_presence {
  /// The connected members, by user.
  std::unordered_map<user_id, user_presence> online;
  /// gateway -> how many users are online there; the fan-out goes to these gateways.
  std::map<gateway_actor, size_t> gateways;
  /// Coalesced updates of big channels, flushed once per second.
  std::map<user_id, presence_status> backlog;
  bool flush_scheduled = false;
};

/// A user's word from one gateway: offline detaches it from that gateway; online or away attach
/// it, with the stamp of that node's away flag (0: no word on it). A stamp older than the
/// channel's is answered with the newer flag, so that node's presence catches up. Publishes the
/// user's transition, if any.
void set_member_status(channel_self self, const principal& who, const gateway_actor& gw,
                       presence_status status, uint64_t stamp);

/// Forgets a removed member on every gateway, without a presence.update.
void drop_member(channel_self self, user_id user);

/// A node went down: its gateway's users go offline.
void drop_gateway(channel_self self, const caf::actor_addr& gateway);

/// The online and away members, by user id (presence.get).
std::vector<presence_entry> present_members(const channel_state& st);

/// The presence flush tick of big channels.
void on_presence_flush(channel_self self);

} // namespace parley
