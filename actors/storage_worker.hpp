#pragma once

#include <memory>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"

namespace parley {

/// One storage connection for reads and membership changes (never message appends: those
/// are the group commit's). Blocking I/O: spawn detached (a pool of them) outside tests.
struct storage_worker_state {
  static inline const char* name = "storage_worker";
  std::shared_ptr<storage::message_log> log;
  std::shared_ptr<storage::membership_store> members;
  size_t recent_ring = 512;
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// The behaviour of one storage worker (interface: storage_actor). Instrumented when the
/// spawner set `state.slot` before calling it (runtime/node.cpp).
storage_actor::behavior_type
storage_worker(storage_actor::stateful_pointer<storage_worker_state> self,
               std::shared_ptr<storage::message_log> log,
               std::shared_ptr<storage::membership_store> members, size_t recent_ring);

} // namespace parley
