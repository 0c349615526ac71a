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

/// Spawns `fun` on its own thread when `detached`, else on the scheduler.
template <class F>
auto spawn_maybe_detached(caf::actor_system& sys, bool detached, F fun) {
  return detached ? sys.spawn<caf::detached>(std::move(fun)) : sys.spawn(std::move(fun));
}

} // namespace

void spawn_node_actors(caf::actor_system& sys, const node_ptr& node, node_storage storage,
                       channel_observer observer) {
  auto& lim = node->limits;
  node->quota
    = std::make_unique<workspace_quota>(lim.workspace_rate_per_s, lim.workspace_burst);
  auto metrics = node->metrics;
  auto writer = storage.writer;
  auto max_batch = lim.commit_max_batch;
  node->group_commit = spawn_maybe_detached(
    sys, storage.detached,
    [=](group_commit_actor::stateful_pointer<group_commit_state> self)
      -> group_commit_actor::behavior_type {
      self->state.slot = actor_slot(metrics, actor_kind::group_commit, self->id(), "group_commit");
      return group_commit(self, writer, max_batch);
    });
  auto ring = lim.recent_ring;
  auto spawn_worker = [&](node_storage::worker w) {
    return spawn_maybe_detached(
      sys, storage.detached,
      [=](storage_actor::stateful_pointer<storage_worker_state> self)
        -> storage_actor::behavior_type {
        self->state.slot
          = actor_slot(metrics, actor_kind::storage_worker, self->id(), "storage_worker");
        return storage_worker(self, w.log, w.members, ring);
      });
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
