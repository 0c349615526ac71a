#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_env.hpp"
#include "actors/outbound_sink.hpp"
#include "actors/placement.hpp"

namespace parley {

/// The node gateway: knows the local connections by user and the local subscribers of each
/// channel, receives ONE delivery per message per node and pushes the shared, pre-encoded
/// frame to the sinks of its local connections (docs/architecture.md "Gateway").
struct gateway_state {
  static inline const char* name = "gateway";

  struct connection_entry {
    principal who;
    sink_ptr sink;
    std::vector<channel_id> channels;
    std::vector<user_id> watching; // presence.subscribe, in its workspace
  };

  /// A user some local connection watches (docs/protocol.md "Presence subscriptions").
  struct watched_user {
    principal who;
    std::vector<uint64_t> conns;                        // the local connections watching it
    presence_status status = presence_status::offline; // as last heard from its home
    bool subscribed = false;                            // its home confirmed this gateway
  };

  node_env env;
  storage_actor store;
  presence_actor presence;
  std::shared_ptr<placement> nodes; // the users' presence homes
  std::unordered_map<uint64_t, connection_entry> connections;
  std::unordered_map<std::string, std::vector<uint64_t>> by_user; // "W:U" -> connections
  std::unordered_map<channel_id, std::vector<uint64_t>> routes;   // channel -> connections
  std::unordered_map<std::string, watched_user> watched;          // "W:U" -> watchers here
  uint64_t deliveries = 0; // deliveries received from channel actors
  uint64_t pushes = 0;     // frames pushed to local connections
  actor_slot slot;         // live-actor gauge and /v1/admin/actors entry
};

/// The behaviour of the node gateway (interface: gateway_actor).
gateway_actor::behavior_type gateway(gateway_actor::stateful_pointer<gateway_state> self,
                                     node_env env, storage_actor store, presence_actor presence,
                                     std::shared_ptr<placement> nodes);

/// "W<w>:U<u>": the key of a user across workspaces.
std::string user_key(const principal& who);

} // namespace parley
