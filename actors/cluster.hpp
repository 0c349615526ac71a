#pragma once

#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster_member.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace parley {

/// Cluster membership of one node (docs/architecture.md "Cluster"): BASP links to every peer of the
/// cluster file with reconnect and backoff, node-down detection by monitoring the peers'
/// cluster actors, and the owner lookup peers use to find this node's channel actors.
/// Every membership change updates the placement, re-homes channels and re-attaches the
/// users online here.
struct cluster_state {
  static inline const char* name = "cluster";

  struct link {
    cluster_member member;
    cluster_actor remote; // the peer's cluster actor (a proxy)
    bool up = false;
    bool connecting = false;
    caf::timespan backoff = std::chrono::milliseconds(250);
  };

  node_ptr node;
  std::vector<link> links;
  uint64_t changes = 0;
};

/// The behaviour of the cluster actor (interface: cluster_actor).
cluster_actor::behavior_type cluster(cluster_actor::stateful_pointer<cluster_state> self,
                                     node_ptr node, std::vector<cluster_member> peers);

} // namespace parley
