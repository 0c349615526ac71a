#pragma once

#include <cstdint>
#include <vector>

#include "protocol/ids.hpp"

namespace parley::storage {

/// Mirrors the users online on this node into a shared store other services read
/// (docs/architecture.md "Presence": push notification, routing). Calls never block and never fail:
/// they record a delta under a short mutex; the implementation writes it from its own thread,
/// so a slow or dead backend delays the mirror but never the delivery path.
///
/// Redis key schema (storage/redis_presence_mirror.cpp; ids in their wire form W1, U7, C3):
///   user:{W}:{U}:gateway   STRING  name of the node the user is connected to ("node-a")
///   channel:{C}:online     SET     "W:U" members ("W1:U7") online on any node
/// Every key carries a TTL (default 45 s) that each node refreshes with pipelined writes
/// every `flush` interval (default 5 s): the keys of a crashed node expire by themselves.
/// A disconnect deletes the gateway key (only if it still names this node) and removes the
/// member from the node's channel sets at the next write.
class presence_mirror {
public:
  virtual ~presence_mirror() = default;

  /// The user is connected to this node and a member of exactly `channels` (replaces the
  /// previous channel list; call again when the user joins or leaves a channel).
  virtual void online(principal who, std::vector<channel_id> channels) = 0;

  /// The user's last connection to this node closed.
  virtual void offline(principal who) = 0;
};

} // namespace parley::storage
