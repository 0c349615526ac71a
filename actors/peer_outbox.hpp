#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_env.hpp"
#include "actors/peer_circuits.hpp"

namespace parley {

class peer_outboxes;

/// This node's delivery path to one peer node (docs/architecture.md "Backpressure", layer 3).
/// Deliveries of every channel queue here and leave as ONE `delivery_batch` per mailbox drain
/// (at most `max_batch` deliveries): one BASP message instead of one per delivery. At most one
/// batch is out as a request at a time, at most one per fifth of the inter-node deadline; its
/// answer confirms it and, since the peer's gateway handles this outbox's batches in order,
/// every batch before it. The answer's delay says whether the peer is slow; no answer for
/// `peer_dead_after` is a failure of its circuit. While the circuit is open, this outbox sends
/// the probes, and once one is confirmed it tells the channels that skipped deliveries meanwhile
/// (each owes the peer a channel.cursor).
struct peer_outbox_state {
  static inline const char* name = "peer_outbox";
  static constexpr size_t max_batch = 256;

  node_env env;
  gateway_actor gateway;                 // the peer's
  std::shared_ptr<peer_circuit> circuit; // null while circuits are off
  std::weak_ptr<peer_outboxes> registry; // left when the peer's gateway is down
  delivery_batch pending;
  bool flush_scheduled = false;
  bool confirming = false;                 // a batch awaiting confirmation is out
  caf::actor_clock::time_point last_asked; // when the latest one went out
  bool probe_scheduled = false;
  std::vector<channel_actor> behind; // channels that skipped deliveries: told when it closes
};

using peer_outbox_self = peer_outbox_actor::stateful_pointer<peer_outbox_state>;

peer_outbox_actor::behavior_type peer_outbox(peer_outbox_self self, node_env env,
                                             gateway_actor gateway,
                                             std::shared_ptr<peer_circuit> circuit,
                                             std::weak_ptr<peer_outboxes> registry);

/// The outboxes of one node, one per peer gateway, spawned on a channel's first delivery to
/// that peer. An outbox leaves when its peer's gateway is down (a restarted peer has a new
/// gateway, so it gets a new outbox).
class peer_outboxes : public std::enable_shared_from_this<peer_outboxes> {
public:
  peer_outboxes(caf::actor_system& sys, node_env env, std::shared_ptr<peer_circuits> circuits)
    : sys_(sys), env_(std::move(env)), circuits_(std::move(circuits)) {}

  /// The outbox toward `gateway`, the gateway of peer node `peer`.
  peer_outbox_actor of(const gateway_actor& gateway, const std::string& peer);

  /// The outbox toward `gateway` left (its gateway is down).
  void forget(const caf::actor_addr& gateway);

  /// Stops every outbox (node shutdown).
  void stop_all();

private:
  caf::actor_system& sys_;
  node_env env_;
  std::shared_ptr<peer_circuits> circuits_;
  std::mutex mtx_;
  std::map<caf::actor_addr, peer_outbox_actor> outboxes_;
};

} // namespace parley
