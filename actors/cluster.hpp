#pragma once

#include <string>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/cluster_member.hpp"
#include "actors/interfaces.hpp"
#include "actors/channel_directory.hpp"
#include "actors/placement.hpp"

namespace parley {

/// What the cluster actor is given at spawn.
struct cluster_deps {
  gateway_actor gateway;   // this node's, announced to the peers
  presence_actor presence; // re-attaches this node's users after a change
  std::shared_ptr<placement> nodes;
  std::shared_ptr<channel_directory> channels;
};

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

  cluster_deps deps;
  std::vector<link> links;
  uint64_t changes = 0;
};

/// The behaviour of the cluster actor (interface: cluster_actor).
cluster_actor::behavior_type cluster(cluster_actor::stateful_pointer<cluster_state> self,
                                     cluster_deps deps, std::vector<cluster_member> peers);

} // namespace parley
