#pragma once

#include <vector>

#include "actors/presence.hpp"

namespace parley {

// The presence actor as the home of the users hashed to its node (docs/architecture.md
// "Presence", docs/protocol.md "Presence subscriptions"): every node reports its word on such a
// user here, as it attaches to channels; gateways with watchers of the user subscribe here
// once each; a transition goes to each subscribed gateway, at most once per user per second.
// Cost per transition: O(subscribed gateways).

/// One node's word on a user homed here (as a channel attach): offline detaches `gw`.
void home_report(presence_self self, const principal& who, const gateway_actor& gw,
                 presence_status status, uint64_t stamp);

/// Subscribes `subscriber` to users homed here; their statuses now.
std::vector<presence_entry> home_subscribe(presence_self self, workspace_id ws,
                                           const std::vector<user_id>& users,
                                           const gateway_actor& subscriber);

/// Unsubscribes `subscriber`.
void home_unsubscribe(presence_self self, workspace_id ws, const std::vector<user_id>& users,
                      const gateway_actor& subscriber);

/// A coalesced transition of `who` is due.
void home_flush(presence_self self, const principal& who);

/// The cluster changed: forget the gateways of nodes that left and the users homed elsewhere
/// now (their nodes report them to the new home); push what changed.
void home_sweep(presence_self self);

} // namespace parley
