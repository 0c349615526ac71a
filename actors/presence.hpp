#pragma once

#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"

namespace parley {

/// Presence of the users connected to this node (docs/architecture.md "Presence"): a user is online
/// while any of its connections is open and it did not set itself away. Transitions go to the
/// user's channel actors, which broadcast presence.update to their online members.
struct presence_state {
  static inline const char* name = "presence";

  struct user_entry {
    principal who;
    std::set<uint64_t> connections;
    bool away = false;
    std::vector<channel_id> channels;
  };

  node_ptr node;
  std::unordered_map<std::string, user_entry> users; // by user_key
  uint64_t transitions = 0;
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// The behaviour of the presence actor (interface: presence_actor).
presence_actor::behavior_type presence(presence_actor::stateful_pointer<presence_state> self,
                                       node_ptr node);

} // namespace parley
