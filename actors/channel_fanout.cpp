#include "actors/channel_fanout.hpp"

#include "actors/channel.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

namespace {

/// The channel.cursor delivery of the latest durable seq.
delivery cursor_delivery(const channel_state& st) {
  delivery d;
  d.channel = st.id;
  d.kind = delivery_kind::cursor;
  d.seq = st.durable_seq();
  d.frame.ptr = share(encode_cursor(st.id, d.seq));
  return d;
}

/// Catch-up for a slow peer that was owed cursors instead of messages: a tick at `due`, so
/// even a quiet channel tells that peer's clients what they missed.
void schedule_catch_up(channel_self self, caf::actor_clock::time_point due) {
  auto& fo = self->state.fanout;
  if (fo.catch_up_scheduled && fo.catch_up_at <= due)
    return;
  fo.catch_up_scheduled = true;
  fo.catch_up_at = due;
  auto now = self->clock().now();
  self->delayed_send(self, due > now ? due - now : caf::timespan{0}, catchup_atom::value);
}

/// Owes the peer of `link` a channel.cursor for what a slow peer was not sent, sent by the
/// catch-up tick at `due`.
void owe_cursor(channel_self self, channel_fanout::peer_link& link,
                caf::actor_clock::time_point due) {
  link.behind = true;
  schedule_catch_up(self, due);
}

/// Owes the peer of `link` a channel.cursor for what its open circuit skipped. No tick: the
/// peer's outbox sends this channel a catchup once a probe closes the circuit.
void owe_cursor_after_close(channel_self self, channel_fanout::peer_link& link) {
  link.behind = true;
  if (link.awaits_close)
    return;
  link.awaits_close = true;
  self->send(link.outbox, catchup_atom::value, caf::actor_cast<channel_actor>(self));
}

/// The link toward another node's gateway, with its outbox and circuit looked up on first use.
channel_fanout::peer_link& link_of(channel_self self, const gateway_actor& gw) {
  auto& deps = *self->state.deps;
  auto& link = self->state.fanout.links[gw];
  if (!link.outbox) {
    // Two short lookups, then the outbox and circuit are kept.
    auto peer = deps.nodes->name_of(gw);
    if (!peer.empty()) {
      auto& lim = deps.env.limits;
      link.outbox = deps.outboxes->of(gw, peer);
      if (lim.internode_deadline.count() > 0)
        link.circuit = deps.circuits->of(peer, lim.circuit_failures, lim.circuit_probe_interval);
    }
  }
  return link;
}

/// This node's outbox toward the gateway `gw` of another node; null for this node's own
/// gateway or one that is not a live peer's.
peer_outbox_actor outbox_for(channel_self self, const gateway_actor& gw) {
  if (gw == self->state.deps->gateway)
    return {};
  return link_of(self, gw).outbox;
}

/// Sends one delivery to a node gateway, counting those that cross to another node. Returns
/// false if it was not sent: the peer's circuit is open, or the peer is slow and this channel
/// is large enough to owe it a cursor instead (DMs and small channels keep pushing).
///
/// Deliveries to another node go through this node's outbox toward it, which batches them
/// and confirms them cumulatively (actors/peer_outbox.hpp). Deliveries an open circuit skips
/// are not queued for later (the channel must not pile up messages for a stuck node): once the
/// circuit closes, the peer's clients see a seq gap on the next message.new, or get a
/// channel.cursor (catch-up tick, or ahead of a presence update), and backfill.
bool deliver_to(channel_self self, const gateway_actor& gw, const delivery& d) {
  auto& st = self->state;
  auto& deps = *st.deps;
  // Every gateway but this node's own is on another node (one gateway per node); comparing
  // handles rather than CAF node ids also holds in the one-system simulation of a cluster.
  if (gw == deps.gateway) {
    self->send(gw, deliver_atom::value, d);
    return true;
  }
  auto& lim = deps.env.limits;
  auto& link = link_of(self, gw);
  if (!link.outbox) {
    // Not a live peer any more (its down message is on the way).
    ++deps.env.counters->deliveries_sent_remote;
    self->send(gw, deliver_atom::value, d);
    return true;
  }
  auto now = self->clock().now();
  if (link.circuit) {
    if (!link.circuit->admits()) {
      owe_cursor_after_close(self, link);
      return false;
    }
    link.awaits_close = false;
    if (d.kind == delivery_kind::message && st.members.size() > lim.overload_cursor_members
        && link.circuit->slow(now, lim.internode_deadline)) {
      ++deps.env.counters->cursor_fanouts;
      owe_cursor(self, link, now + lim.cursor_interval);
      return false;
    }
  }
  ++deps.env.counters->deliveries_sent_remote;
  if (link.behind) {
    link.behind = false;
    // A message.new or a cursor reveals the gap by itself; a presence update does not.
    if (d.kind == delivery_kind::control)
      self->send(link.outbox, deliver_atom::value, cursor_delivery(st));
  }
  self->send(link.outbox, deliver_atom::value, d);
  return true;
}

/// Sends one delivery to every gateway with online members: O(nodes), not O(members).
void broadcast(channel_self self, const delivery& d) {
  for (auto& [gw, count] : self->state.presence.gateways)
    deliver_to(self, gw, d);
}

/// Messages waiting between the channels and the sockets of this node: in the gateway's
/// mailbox, and handed to the Asio lanes but not yet pushed.
int64_t fanout_backlog(const node_counters& c) {
  return static_cast<int64_t>(c.gateway_backlog.load(std::memory_order_relaxed))
         + c.lane_backlog.load(std::memory_order_relaxed);
}

/// The node is overloaded: too much fan-out waits, or what waits has waited too long (a count
/// alone misses a few huge batches; a latency alone stays high after the backlog cleared).
bool overloaded(const node_counters& c, const node_limits& lim) {
  auto backlog = fanout_backlog(c);
  if (backlog > static_cast<int64_t>(lim.overload_backlog))
    return true;
  // Many full kernel send buffers at once: the sockets, not the lanes, hold the fan-out back.
  if (lim.overload_backed_up_sockets > 0
      && c.sockets_backed_up.load(std::memory_order_relaxed)
           > static_cast<int64_t>(lim.overload_backed_up_sockets))
    return true;
  return backlog > 0
         && std::chrono::nanoseconds(c.lane_delay_ns.load(std::memory_order_relaxed))
              > lim.overload_delay;
}

/// Read-time fan-out for channels above the large threshold, and under overload for every
/// channel above the overload threshold: large channels degrade first, DMs and small channels
/// keep real-time push (docs/architecture.md "Backpressure").
bool read_time_fanout(const channel_state& st) {
  auto& lim = st.deps->env.limits;
  if (st.members.size() > lim.large_channel_members)
    return true;
  return st.members.size() > lim.overload_cursor_members
         && overloaded(*st.deps->env.counters, lim);
}

void send_cursor(channel_self self) {
  auto& fo = self->state.fanout;
  fo.cursor_dirty = false;
  fo.last_cursor = self->clock().now();
  broadcast(self, cursor_delivery(self->state));
}

/// Read-time fan-out: at most one channel.cursor per interval.
void cursor_advanced(channel_self self) {
  auto& fo = self->state.fanout;
  fo.cursor_dirty = true;
  if (fo.cursor_scheduled)
    return;
  auto due = fo.last_cursor + self->state.deps->env.limits.cursor_interval;
  auto now = self->clock().now();
  if (now >= due) {
    send_cursor(self);
  } else {
    fo.cursor_scheduled = true;
    self->delayed_send(self, due - now, cursor_atom::value);
  }
}

} // namespace

bool fan_out_message(channel_self self, const chat_message& msg, const send_ack& ack,
                     const gateway_actor& origin_gateway, uint64_t origin_conn) {
  auto& st = self->state;
  if (read_time_fanout(st)) {
    ++st.deps->env.counters->cursor_fanouts;
    cursor_advanced(self);
    return false;
  }
  delivery d;
  d.channel = st.id;
  d.kind = delivery_kind::message;
  d.seq = msg.seq;
  d.acked_ns = steady_ns();
  d.frame.ptr = share(encode_message_new(msg));
  bool written = false;
  for (auto& [gw, count] : st.presence.gateways) {
    if (origin_gateway && gw == origin_gateway) {
      // The sender's gateway writes the ack ahead of the message.new on that connection.
      auto with_ack = d;
      with_ack.ack_conn = origin_conn;
      with_ack.ack_frame.ptr = share(encode_ack(ack));
      // Not written if the sender's node is cut off: the connection writes the ack then.
      written = deliver_to(self, gw, with_ack);
    } else {
      deliver_to(self, gw, d);
    }
  }
  return written;
}

void fan_out_control(channel_self self, frame_ptr frame) {
  delivery d;
  d.channel = self->state.id;
  d.kind = delivery_kind::control;
  d.frame.ptr = std::move(frame);
  broadcast(self, d);
}

void on_cursor_tick(channel_self self) {
  auto& fo = self->state.fanout;
  fo.cursor_scheduled = false;
  if (fo.cursor_dirty)
    send_cursor(self);
}

void on_catch_up_tick(channel_self self) {
  auto& st = self->state;
  auto& fo = st.fanout;
  if (self->clock().now() >= fo.catch_up_at)
    fo.catch_up_scheduled = false; // else an earlier tick was superseded: a later one is due
  std::vector<gateway_actor> owed;
  for (auto i = fo.links.begin(); i != fo.links.end();) {
    if (st.presence.gateways.count(i->first) == 0) {
      i = fo.links.erase(i); // nobody online there any more
      continue;
    }
    if (i->second.behind)
      owed.push_back(i->first);
    ++i;
  }
  if (owed.empty())
    return;
  auto d = cursor_delivery(st);
  for (auto& gw : owed)
    deliver_to(self, gw, d); // skipped again: owed again
}

void send_in_order(channel_self self, const gateway_actor& gw, joined_atom a, channel_id ch,
                   workspace_id ws, const std::vector<user_id>& users, uint64_t seq) {
  if (auto outbox = outbox_for(self, gw))
    self->send(outbox, a, ch, ws, users, seq);
  else
    self->send(gw, a, ch, ws, users, seq);
}

void send_in_order(channel_self self, const gateway_actor& gw, left_atom a, channel_id ch,
                   workspace_id ws, user_id user) {
  if (auto outbox = outbox_for(self, gw))
    self->send(outbox, a, ch, ws, user);
  else
    self->send(gw, a, ch, ws, user);
}

void forget_link(channel_self self, const caf::actor_addr& gateway) {
  auto& links = self->state.fanout.links;
  for (auto i = links.begin(); i != links.end();)
    i = i->first.address() == gateway ? links.erase(i) : std::next(i);
}

} // namespace parley
