#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/interfaces.hpp"
#include "actors/channel_deps.hpp"
#include "actors/cluster.hpp"
#include "actors/connection.hpp"
#include "actors/node_env.hpp"
#include "storage/event_export.hpp"
#include "storage/presence_mirror.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"

namespace parley {

/// The storage connections of one node's actors.
struct node_storage {
  /// One storage worker's connection (reads and membership writes).
  struct worker {
    std::shared_ptr<storage::message_log> log;
    std::shared_ptr<storage::membership_store> members;
  };
  std::shared_ptr<storage::message_log> writer; // the group commit's connection
  std::vector<worker> workers;                  // at least one
  std::shared_ptr<storage::presence_mirror> mirror; // Redis; null unless configured
  std::shared_ptr<storage::event_export> exporter;  // Kafka; null unless configured
  /// True in a running node: storage actors block, so they get threads of their own. False
  /// in deterministic tests, where every actor runs on the test scheduler.
  bool detached = true;
};

/// Sees every channel actor (`owner`) or stub a node spawns; tests keep them.
using channel_observer = std::function<void(channel_id, const channel_actor&, bool owner)>;

/// One node's actors and shared registries as spawn_node_actors made them, for what is not an
/// actor: parleyd's listener, REST and /metrics, the cluster actor's spawn, and the test
/// fixtures. The actors themselves are each given only their own part at spawn.
struct node_actors {
  node_env env;
  gateway_actor gateway;
  presence_actor presence;
  group_commit_actor group_commit;
  storage_actor store; // a pool of storage workers
  std::shared_ptr<placement> nodes;
  std::shared_ptr<channel_directory> channels;
  std::shared_ptr<peer_circuits> circuits;
  std::shared_ptr<peer_outboxes> outboxes;
  connection_deps_ptr for_connections; // what the listener spawns each connection with

  /// What the cluster actor is spawned with.
  cluster_deps for_cluster() const { return {gateway, presence, nodes, channels}; }
};

/// Wires one node (docs/architecture.md "Actors"): spawns its group commit, storage workers,
/// presence and gateway, and installs the channel factory — the owner node runs the channel
/// actor, every other node a stub forwarding to it. Used by parleyd and by the actor
/// simulation fixtures alike.
node_actors spawn_node_actors(caf::actor_system& sys, node_env env, node_storage storage,
                              channel_observer observer = {});

/// Stops the per-node actors, forgets the node's channels and drops its handles (detached
/// actors' threads end only when no handle to them is left).
void stop_node_actors(node_actors& node);

} // namespace parley
