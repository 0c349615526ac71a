#pragma once

#include <string>
#include <vector>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_context.hpp"
#include "actors/cluster_member.hpp"

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
    caf::actor remote; // the peer's cluster actor (a proxy)
    bool up = false;
    bool connecting = false;
    caf::timespan backoff = std::chrono::milliseconds(250);
  };

  node_ptr node;
  std::vector<link> links;
  uint64_t changes = 0;
};

/// Handlers:
///   (hello_atom, string name, actor cluster, actor gateway) -> (string name, actor gateway)
///       a peer introduces itself; answered with this node's name and gateway
///   (lookup_atom, channel_id) -> actor        the local channel actor, if this node owns it
///   INTERNAL: (retry_atom, size_t link)      reconnect after backoff
caf::behavior cluster(caf::stateful_actor<cluster_state>* self, node_ptr node,
                      std::vector<cluster_member> peers);

} // namespace parley
