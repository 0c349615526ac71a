#pragma once

#include <memory>

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"

namespace parley {

/// One storage connection for reads and membership changes. Blocking I/O: spawn detached
/// (a pool of them) outside tests.
struct storage_reader_state {
  static inline const char* name = "storage_reader";
  std::shared_ptr<storage::message_log> log;
  std::shared_ptr<storage::membership_store> members;
  size_t recent_ring = 512;
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// Handlers:
///   (lookup_atom, workspace_id, user_id, string cmid)           -> vector<chat_message> (0 or 1)
///   (read_atom, workspace_id, channel_id, uint64 after, uint32 limit) -> vector<chat_message>
///   (load_atom, channel_id)                                     -> channel_snapshot
///   (channels_atom, workspace_id, user_id)                      -> vector<channel_id>
///   (list_channels_atom, workspace_id, user_id)          -> vector<storage::channel_summary>
///   (create_atom, workspace_id, string name, vector<user_id>)   -> channel_id
///   (dm_atom, workspace_id, user_id, user_id)                   -> channel_id, bool created
///   (add_atom, workspace_id, channel_id, vector<user_id>)       -> vector<user_id> added
///   (remove_atom, workspace_id, channel_id, user_id)            -> bool removed
/// Instrumented when the spawner set `state.slot` before calling it (runtime/node.cpp).
caf::behavior storage_reader(caf::stateful_actor<storage_reader_state>* self,
                             std::shared_ptr<storage::message_log> log,
                             std::shared_ptr<storage::membership_store> members,
                             size_t recent_ring);

} // namespace parley
