#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
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
  /// True in a running node: storage actors block, so they get threads of their own. False
  /// in deterministic tests, where every actor runs on the test scheduler.
  bool detached = true;
};

/// Sees every channel actor (`owner`) or stub a node spawns; tests keep them.
using channel_observer = std::function<void(channel_id, const channel_actor&, bool owner)>;

/// Wires one node (docs/architecture.md "Actors"): spawns its group commit, storage workers,
/// gateway and presence into `node`, and installs the channel factory — the owner node runs
/// the channel actor, every other node a stub forwarding to it. `node` has its name and
/// limits set. Used by parleyd and by the actor simulation fixtures alike.
void spawn_node_actors(caf::actor_system& sys, const node_ptr& node, node_storage storage,
                       channel_observer observer = {});

/// Stops the per-node actors and drops the node's handles to them and to its channels,
/// which breaks the node <-> actor reference cycles.
void stop_node_actors(const node_ptr& node);

} // namespace parley
