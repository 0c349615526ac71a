#include "actors/node_actors.hpp"

#include <caf/actor_pool.hpp>
#include <caf/send.hpp>

#include "actors/channel.hpp"
#include "actors/channel_stub.hpp"
#include "actors/connection.hpp"
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

node_actors spawn_node_actors(caf::actor_system& sys, node_env env, node_storage storage,
                              channel_observer observer) {
  node_actors node;
  node.env = std::move(env);
  auto& lim = node.env.limits;
  auto& metrics = node.env.metrics;
  node.group_commit = spawn_maybe_detached(sys, storage.detached, instrumented_group_commit,
                                           metrics, storage.writer, lim.commit_max_batch);
  auto spawn_worker = [&](const node_storage::worker& w) {
    return spawn_maybe_detached(sys, storage.detached, instrumented_storage_worker, metrics, w,
                                lim.recent_ring);
  };
  if (storage.workers.size() == 1) {
    node.store = spawn_worker(storage.workers.front());
  } else {
    size_t next = 0;
    auto pool = caf::actor_pool::make(
      sys.dummy_execution_unit(), storage.workers.size(),
      [&] { return caf::actor_cast<caf::actor>(spawn_worker(storage.workers[next++])); },
      caf::actor_pool::round_robin());
    node.store = caf::actor_cast<storage_actor>(pool);
  }
  node.nodes = std::make_shared<placement>(node.env.name);
  node.channels = std::make_shared<channel_directory>();
  node.circuits = std::make_shared<peer_circuits>();
  node.outboxes = std::make_shared<peer_outboxes>(sys, node.env, node.circuits);
  // The presence actor and the gateway know each other: the presence actor learns its
  // gateway by message, before any connection exists.
  node.presence = sys.spawn(
    presence, presence_deps{node.env, node.channels, node.nodes, storage.mirror, storage.exporter});
  node.gateway = sys.spawn(gateway, node.env, node.store, node.presence, node.nodes);
  caf::anon_send(node.presence, wire_atom::value, node.gateway);
  node.for_connections = std::make_shared<const connection_deps>(
    connection_deps{node.env, node.gateway, node.presence, node.channels});
  auto for_channels = std::make_shared<const channel_deps>(channel_deps{
    node.env, node.group_commit, node.store, node.gateway, node.nodes, node.channels,
    std::make_shared<workspace_quota>(lim.workspace_rate_per_s, lim.workspace_burst),
    node.circuits, node.outboxes});
  auto* system = &sys;
  auto* nodes = node.nodes.get(); // the directory holds the placement: it outlives the factory
  node.channels->set_factory(
    [system, nodes, for_channels, observer](channel_id id, const std::string& owner) {
      bool owned = owner == nodes->self();
      auto hdl = owned ? system->spawn(channel, for_channels, id)
                       : system->spawn(channel_stub, for_channels, id, nodes->node_of(owner));
      if (observer)
        observer(id, hdl, owned);
      return hdl;
    },
    node.nodes);
  return node;
}

void stop_node_actors(node_actors& node) {
  auto stop = [](const auto& hdl) {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  if (node.outboxes)
    node.outboxes->stop_all();
  stop(node.gateway);
  stop(node.presence);
  stop(node.group_commit);
  stop(node.store);
  // Detached actors' threads wait until their actor objects are gone: drop every handle,
  // those the channel factory and the connections' value hold included.
  node.gateway = nullptr;
  node.presence = nullptr;
  node.group_commit = nullptr;
  node.store = nullptr;
  node.for_connections = nullptr;
  if (node.channels)
    node.channels->clear();
}

} // namespace parley
