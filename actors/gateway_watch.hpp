#pragma once

#include <vector>

#include "actors/gateway.hpp"

namespace parley {

// The presence subscriptions of a node's connections (docs/protocol.md "Presence
// subscriptions", docs/architecture.md "Presence"): the gateway subscribes ONCE per watched
// user at the user's home presence, whatever the number of local watchers, and fans each
// transition it hears out to them.

using gateway_self = gateway_actor::stateful_pointer<gateway_state>;

/// presence.subscribe of local connection `conn`: answers the users' statuses now.
caf::result<std::vector<presence_entry>> watch(gateway_self self, uint64_t conn,
                                               workspace_id ws,
                                               const std::vector<user_id>& users);

/// presence.unsubscribe of `conn` (also when it closes): the last local watcher of a user
/// unsubscribes this gateway at the user's home.
void unwatch(gateway_self self, uint64_t conn, workspace_id ws,
             const std::vector<user_id>& users);

/// A watched user's transition from its home: presence.update to the local watchers.
void on_watched(gateway_self self, const principal& who, presence_status status);

/// The cluster changed: subscribe every watched user at its (possibly new) home.
void resubscribe_all(gateway_self self);

} // namespace parley
