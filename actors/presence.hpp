#pragma once

#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/channel_directory.hpp"
#include "actors/node_env.hpp"
#include "actors/user_presence.hpp"
#include "storage/event_export.hpp"
#include "storage/presence_mirror.hpp"

namespace parley {

/// What the presence actor is given at spawn (its gateway follows in a wire message: the two
/// know each other).
struct presence_deps {
  node_env env;
  std::shared_ptr<channel_directory> channels;
  std::shared_ptr<placement> nodes;                  // the peers' gateways (presence.set)
  std::shared_ptr<storage::presence_mirror> mirror; // Redis; null unless configured
  std::shared_ptr<storage::event_export> exporter;  // Kafka; null unless configured
};

/// Presence of the users connected to this node (docs/architecture.md "Presence"): which of them
/// have connections here, and each one's away flag with the stamp of the presence.set that set
/// it, on whatever node. Changes go to the user's channel actors, which combine every node's
/// word and broadcast presence.update to their online members.
struct presence_state {
  static inline const char* name = "presence";

  struct user_entry {
    principal who;
    std::set<uint64_t> connections;
    bool away = false;
    uint64_t away_stamp = 0; // when `away` was set, here or on another node; 0: never
    std::vector<channel_id> channels;
  };

  /// A user whose presence home is this node (placement::home_of): every node's word on it
  /// and the gateways subscribed to it (actors/presence_home.hpp).
  struct home_entry {
    principal who;
    user_presence combined;
    std::vector<gateway_actor> subscribers;
    presence_status pushed = presence_status::offline; // what the subscribers last heard
    std::optional<caf::actor_clock::time_point> last_push; // none yet
    bool flush_scheduled = false;
  };

  presence_deps deps;
  gateway_actor gateway; // this node's, from the wire message
  std::unordered_map<std::string, user_entry> users; // connected here, by user_key
  std::unordered_map<std::string, home_entry> homed; // homed here, by user_key
  uint64_t transitions = 0;
  uint64_t last_stamp = 0; // stamps of this node's presence.set increase strictly
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

using presence_self = presence_actor::stateful_pointer<presence_state>;

/// The behaviour of the presence actor (interface: presence_actor).
presence_actor::behavior_type presence(presence_self self, presence_deps deps);

} // namespace parley
