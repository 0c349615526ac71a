#include "actors/node_actors.hpp"

#include <caf/actor_pool.hpp>
#include <caf/send.hpp>

#include "actors/channel.hpp"
#include "actors/channel_stub.hpp"
#include "actors/gateway.hpp"
#include "actors/group_commit.hpp"
#include "actors/presence.hpp"
#include "actors/storage_worker.hpp"

namespace parley {

namespace {

/// Spawns `fun` with `args` on its own thread when `detached`, else on the scheduler. (With
/// no arguments at all CAF 0.17 binds a reference to a null pointer: UBSan reports it.)
template <class F, class... Ts>
auto spawn_maybe_detached(caf::actor_system& sys, bool detached, F fun, Ts&&... args) {
  return detached ? sys.spawn<caf::detached>(std::move(fun), std::forward<Ts>(args)...)
                  : sys.spawn(std::move(fun), std::forward<Ts>(args)...);
}

/// The group commit, instrumented as one per node.
group_commit_actor::behavior_type
instrumented_group_commit(group_commit_actor::stateful_pointer<group_commit_state> self,
                          metrics_ptr metrics, std::shared_ptr<storage::message_log> writer,
                          size_t max_batch) {
  self->state.slot = actor_slot(metrics, actor_kind::group_commit, self->id(), "group_commit");
  return group_commit(self, std::move(writer), max_batch);
}

/// One storage worker, instrumented.
storage_actor::behavior_type
instrumented_storage_worker(storage_actor::stateful_pointer<storage_worker_state> self,
                            metrics_ptr metrics, node_storage::worker w, size_t ring) {
  self->state.slot = actor_slot(metrics, actor_kind::storage_worker, self->id(), "storage_worker");
  return storage_worker(self, std::move(w.log), std::move(w.members), ring);
}

} // namespace

void spawn_node_actors(caf::actor_system& sys, const node_ptr& node, node_storage storage,
                       channel_observer observer) {
  auto& lim = node->limits;
  node->quota
    = std::make_unique<workspace_quota>(lim.workspace_rate_per_s, lim.workspace_burst);
  auto metrics = node->metrics;
  node->group_commit = spawn_maybe_detached(sys, storage.detached, instrumented_group_commit,
                                            metrics, storage.writer, lim.commit_max_batch);
  auto spawn_worker = [&](const node_storage::worker& w) {
    return spawn_maybe_detached(sys, storage.detached, instrumented_storage_worker, metrics, w,
                                lim.recent_ring);
  };
  if (storage.workers.size() == 1) {
    node->store = spawn_worker(storage.workers.front());
  } else {
    size_t next = 0;
    auto pool = caf::actor_pool::make(
      sys.dummy_execution_unit(), storage.workers.size(),
      [&] { return caf::actor_cast<caf::actor>(spawn_worker(storage.workers[next++])); },
      caf::actor_pool::round_robin());
    node->store = caf::actor_cast<storage_actor>(pool);
  }
  node->gateway = sys.spawn(gateway, node);
  node->presence = sys.spawn(presence, node);
  node->nodes.set_self(node->node_name);
  // Weak: the factory lives in the node it spawns for.
  std::weak_ptr<node_context> weak = node;
  auto* system = &sys;
  node->channels.set_factory(
    [system, weak, observer](channel_id id, const std::string& owner) {
      auto n = weak.lock();
      bool owned = owner == n->nodes.self();
      auto hdl = owned ? system->spawn(channel, n, id)
                       : system->spawn(channel_stub, n, id, n->nodes.node_of(owner));
      if (observer)
        observer(id, hdl, owned);
      return hdl;
    },
    &node->nodes);
}

void stop_node_actors(const node_ptr& node) {
  auto stop = [](const auto& hdl) {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  stop(node->gateway);
  stop(node->presence);
  stop(node->group_commit);
  stop(node->store);
  // Detached actors' threads wait until their actor objects are gone: drop the handles.
  node->gateway = nullptr;
  node->presence = nullptr;
  node->group_commit = nullptr;
  node->store = nullptr;
  node->channels.clear();
}

} // namespace parley
