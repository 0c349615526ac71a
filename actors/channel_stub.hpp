#pragma once

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/channel_deps.hpp"

namespace parley {

/// Stands in for a channel owned by another node: asks the owner's cluster actor for the
/// channel actor once, then forwards every request to it unchanged (the answer goes straight
/// back to the requester). When the owner is unreachable, requests fail (the caller reports
/// `unavailable`) and the stub leaves, so the next use looks the owner up again.
struct channel_stub_state {
  static inline const char* name = "channel_stub";
  channel_actor target;
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// The behaviour of a stub: the channel_actor interface, forwarded to the owner's channel.
channel_actor::behavior_type channel_stub(channel_actor::stateful_pointer<channel_stub_state> self,
                                          channel_deps_ptr deps, channel_id id,
                                          cluster_actor owner_node);

} // namespace parley
