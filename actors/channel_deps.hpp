#pragma once

#include <memory>

#include "actors/channel_directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_env.hpp"
#include "actors/peer_circuits.hpp"
#include "actors/peer_outbox.hpp"
#include "actors/placement.hpp"
#include "actors/workspace_quota.hpp"

namespace parley {

/// What the channel actors and stubs of a node are given at spawn: one immutable value shared
/// by all of them. The registries behind the pointers are internally synchronised and used
/// on activation, membership changes and first contact with a peer, not per message.
struct channel_deps {
  node_env env;
  group_commit_actor group_commit;
  storage_actor store;
  gateway_actor gateway;                      // this node's
  std::shared_ptr<placement> nodes;           // the peers' names and gateways
  std::weak_ptr<channel_directory> directory; // left on passivation (weak: it spawns channels)
  std::shared_ptr<workspace_quota> quotas;    // the workspace's bucket, taken at activation
  std::shared_ptr<peer_circuits> circuits;    // a peer's circuit, taken at first delivery
  std::shared_ptr<peer_outboxes> outboxes;    // a peer's outbox, taken at first delivery
};

using channel_deps_ptr = std::shared_ptr<const channel_deps>;

} // namespace parley
