#pragma once

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/node_context.hpp"

namespace parley {

/// Stands in for a channel owned by another node: asks the owner's cluster actor for the
/// channel actor once, then forwards every request to it unchanged (the answer goes straight
/// back to the requester). When the owner is unreachable, requests fail (the caller reports
/// `unavailable`) and the stub leaves, so the next use looks the owner up again.
struct channel_stub_state {
  static inline const char* name = "channel_stub";
  caf::actor target;
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// Handlers: everything a channel handles, forwarded.
caf::behavior channel_stub(caf::stateful_actor<channel_stub_state>* self, node_ptr node,
                           channel_id id, caf::actor owner_node);

} // namespace parley
