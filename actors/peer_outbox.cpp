#include "actors/peer_outbox.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

namespace parley {

namespace {

void schedule_probe(peer_outbox_self self) {
  auto& st = self->state;
  if (st.probe_scheduled)
    return;
  st.probe_scheduled = true;
  auto now = self->clock().now();
  auto due = st.circuit->next_probe();
  self->delayed_send(self, due > now ? due - now : caf::timespan{0}, probe_atom::value);
}

void send_batch(peer_outbox_self self, delivery_batch batch) {
  ++self->state.env.counters->internode_batches_sent;
  self->send(self->state.gateway, deliver_atom::value, std::move(batch));
}

/// The circuit is closed: the channels that skipped deliveries send their cursors now.
void release_behind(peer_outbox_self self) {
  for (auto& ch : self->state.behind)
    self->send(ch, catchup_atom::value);
  self->state.behind.clear();
}

/// Sends `batch` as a request the peer's gateway answers once it has pushed it (and, in order,
/// everything before it). Busy is not dead: an answer after the deadline marks the peer slow;
/// only no answer for `peer_dead_after` is a failure of its circuit.
void confirmed_send(peer_outbox_self self, delivery_batch batch) {
  auto& st = self->state;
  auto& lim = st.env.limits;
  auto asked = self->clock().now();
  st.confirming = true;
  st.last_asked = asked;
  st.circuit->asking(asked);
  ++st.env.counters->internode_batches_sent;
  self->request(st.gateway, std::max(lim.peer_dead_after, lim.internode_deadline),
                deliver_atom::value, std::move(batch))
    .then(
      [=]() {
        auto& st = self->state;
        st.confirming = false;
        auto now = self->clock().now();
        st.circuit->confirmed(now, now - asked > st.env.limits.internode_deadline);
        if (st.circuit->state() == circuit_breaker::state::closed)
          release_behind(self);
      },
      [=](caf::error&) {
        auto& st = self->state;
        st.confirming = false;
        st.circuit->unanswered(asked, self->clock().now());
        if (st.circuit->state() != circuit_breaker::state::closed)
          schedule_probe(self); // this miss opened the circuit, or was its probe
      });
}

/// Sends what is queued, as one message. A closed circuit confirms one batch per fifth of the
/// deadline; an open one sends what channels handed over before they saw it open, unconfirmed
/// (the probe decides).
void flush(peer_outbox_self self) {
  auto& st = self->state;
  if (st.pending.items.empty())
    return;
  delivery_batch batch;
  batch.items.swap(st.pending.items);
  auto& lim = st.env.limits;
  if (st.circuit && st.circuit->state() == circuit_breaker::state::closed && !st.confirming
      && self->clock().now() - st.last_asked >= lim.internode_deadline / 5)
    confirmed_send(self, std::move(batch));
  else
    send_batch(self, std::move(batch));
}

} // namespace

peer_outbox_actor::behavior_type peer_outbox(peer_outbox_self self, node_env env,
                                             gateway_actor gateway,
                                             std::shared_ptr<peer_circuit> circuit,
                                             std::weak_ptr<peer_outboxes> registry) {
  auto& st = self->state;
  st.env = std::move(env);
  st.gateway = std::move(gateway);
  st.circuit = std::move(circuit);
  st.registry = std::move(registry);
  self->monitor(st.gateway);
  self->set_down_handler([=](caf::down_msg& dm) {
    if (auto reg = self->state.registry.lock())
      reg->forget(dm.source);
    self->quit();
  });
  return {
    [=](deliver_atom, delivery& d) {
      auto& st = self->state;
      st.pending.items.push_back(std::move(d));
      if (st.pending.items.size() >= peer_outbox_state::max_batch) {
        flush(self);
      } else if (!st.flush_scheduled) {
        // The flush goes behind every delivery already in the mailbox: they share one batch.
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
    },
    [=](joined_atom a, channel_id ch, workspace_id ws, std::vector<user_id>& users,
        uint64_t seq) {
      flush(self);
      self->send(self->state.gateway, a, ch, ws, std::move(users), seq);
    },
    [=](left_atom a, channel_id ch, workspace_id ws, user_id user) {
      flush(self);
      self->send(self->state.gateway, a, ch, ws, user);
    },
    [=](catchup_atom, channel_actor& ch) {
      auto& st = self->state;
      st.behind.push_back(std::move(ch));
      if (!st.circuit || st.circuit->state() == circuit_breaker::state::closed)
        release_behind(self); // it closed before this channel's word arrived
    },
    [=](flush_atom) {
      self->state.flush_scheduled = false;
      flush(self);
    },
    [=](probe_atom) {
      auto& st = self->state;
      st.probe_scheduled = false;
      if (st.circuit->state() == circuit_breaker::state::closed || st.confirming)
        return; // closed meanwhile, or the previous probe is still out (it reschedules)
      if (st.circuit->attempt(self->clock().now()) != circuit_breaker::verdict::probe) {
        schedule_probe(self);
        return;
      }
      delivery_batch probe; // what is queued, or nothing
      probe.items.swap(st.pending.items);
      confirmed_send(self, std::move(probe));
    },
  };
}

peer_outbox_actor peer_outboxes::of(const gateway_actor& gateway, const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& outbox = outboxes_[gateway.address()];
  if (!outbox) {
    auto& lim = env_.limits;
    std::shared_ptr<peer_circuit> circuit;
    if (lim.internode_deadline.count() > 0)
      circuit = circuits_->of(peer, lim.circuit_failures, lim.circuit_probe_interval);
    outbox = sys_.spawn(peer_outbox, env_, gateway, std::move(circuit), weak_from_this());
  }
  return outbox;
}

void peer_outboxes::forget(const caf::actor_addr& gateway) {
  std::lock_guard<std::mutex> guard{mtx_};
  outboxes_.erase(gateway);
}

void peer_outboxes::stop_all() {
  std::map<caf::actor_addr, peer_outbox_actor> all;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    all.swap(outboxes_);
  }
  for (auto& [gw, outbox] : all)
    caf::anon_send_exit(outbox, caf::exit_reason::user_shutdown);
}

} // namespace parley
