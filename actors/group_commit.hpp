#pragma once

#include <memory>
#include <vector>

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "protocol/message.hpp"
#include "storage/message_log.hpp"

namespace parley {

/// The group commit makes seqs durable (it never assigns one): it commits the appends of
/// many channel actors in one transaction per batch and answers each append once durable
/// (docs/architecture.md "Group commit"). Blocking storage I/O: spawn it detached outside
/// tests.
struct group_commit_state {
  static inline const char* name = "group_commit";
  std::shared_ptr<storage::message_log> log;
  size_t max_batch = 1000;
  std::vector<chat_message> batch;
  std::vector<caf::typed_response_promise<storage::append_outcome>> waiting;
  bool flush_scheduled = false;
  uint64_t batches = 0; // committed batches, for tests and metrics
  actor_slot slot;      // batch size, commit latency, live-actor gauge
};

/// The behaviour of the group commit (interface: group_commit_actor). Instrumented when the
/// spawner set `state.slot` before calling it (runtime/node.cpp).
group_commit_actor::behavior_type
group_commit(group_commit_actor::stateful_pointer<group_commit_state> self,
             std::shared_ptr<storage::message_log> log, size_t max_batch);

} // namespace parley
