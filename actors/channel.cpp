#include "actors/channel.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "protocol/clock.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

namespace {

using channel_actor = caf::stateful_actor<channel_state>*;

int64_t clock_us(channel_actor self) {
  using namespace std::chrono;
  return duration_cast<microseconds>(self->clock().now().time_since_epoch()).count();
}

bool is_member(const channel_state& st, const principal& who) {
  return st.found && who.workspace == st.workspace && st.members.count(who.user) > 0;
}

presence_status combined_status(const channel_state& st, user_id user) {
  auto i = st.online.find(user);
  if (i == st.online.end() || i->second.empty())
    return presence_status::offline;
  for (auto& [gw, s] : i->second)
    if (s == presence_status::online)
      return presence_status::online;
  return presence_status::away;
}

/// The channel.cursor delivery of the latest durable seq.
delivery cursor_delivery(const channel_state& st) {
  delivery d;
  d.channel = st.id;
  d.kind = delivery_kind::cursor;
  d.seq = st.durable_seq();
  d.frame.ptr = share(encode_cursor(st.id, d.seq));
  return d;
}

/// Catch-up for a peer an open circuit cut off: a tick when its circuit lets the next probe
/// through (`due`), so even a quiet channel tells that peer's clients what they missed.
void schedule_catch_up(channel_actor self, caf::actor_clock::time_point due) {
  auto& st = self->state;
  if (st.catch_up_scheduled && st.catch_up_at <= due)
    return;
  st.catch_up_scheduled = true;
  st.catch_up_at = due;
  auto now = self->clock().now();
  self->delayed_send(self, due > now ? due - now : caf::timespan{0}, catchup_atom::value);
}

/// Sends `d` as a request the peer's gateway answers once it has pushed it: no answer within
/// the deadline is a failure of the peer's circuit, an answer a success.
void confirmed_send(channel_actor self, const caf::actor& gw, const delivery& d,
                    const std::string& peer) {
  auto& st = self->state;
  auto& link = st.links[gw];
  link.confirming = true;
  link.confirm_sent = self->clock().now();
  auto done = [=] {
    if (auto i = self->state.links.find(gw); i != self->state.links.end())
      i->second.confirming = false;
  };
  self->request(gw, st.node->limits.internode_deadline, deliver_atom::value, d)
    .then(
      [=]() {
        done();
        self->state.node->circuits.succeeded(peer);
      },
      [=](caf::error&) {
        done();
        auto& circuits = self->state.node->circuits;
        circuits.failed(peer, self->clock().now());
        auto i = self->state.links.find(gw);
        if (i != self->state.links.end()
            && circuits.state_of(peer) != circuit_breaker::state::closed) {
          // This miss opened the circuit (or was its probe): whether the peer ever pushes
          // what it got is unknown, so it is owed a cursor, and even a quiet channel comes
          // back to probe.
          i->second.behind = true;
          schedule_catch_up(self, circuits.next_probe(peer));
        }
      });
}

/// Sends one delivery to a node gateway, counting those that cross to another node. Returns
/// false if the peer's circuit is open and the delivery was not sent.
///
/// Confirmation is cheap: at most ONE delivery per (channel, peer) is out as a request, and
/// at most one starts per fifth of the deadline; the others go as plain sends. A gateway
/// handles one sender's messages in order, so a confirmed delivery vouches for those sent
/// before it, and a stuck peer still fails the request that is out. (A request/response
/// over BASP costs ~20 us of node CPU; confirming every delivery measured +20% CPU per
/// delivery on a 3-node cluster.) Deliveries an open circuit skips are not queued for later (the
/// channel must not pile up messages for a stuck node): once the circuit lets deliveries
/// through, the peer's clients see a seq gap on the next message.new, or get a
/// channel.cursor (catch-up tick, or ahead of a presence update), and backfill.
bool deliver_to(channel_actor self, const caf::actor& gw, const delivery& d) {
  auto& st = self->state;
  auto& node = *st.node;
  // Every gateway but this node's own is on another node (one gateway per node); comparing
  // handles rather than CAF node ids also holds in the one-system simulation of a cluster.
  if (gw == node.gateway) {
    self->send(gw, deliver_atom::value, d);
    return true;
  }
  auto& lim = node.limits;
  auto& link = st.links[gw];
  if (link.peer.empty() && lim.internode_deadline.count() > 0)
    link.peer = node.nodes.name_of(gw);
  if (link.peer.empty()) {
    // Circuits off, or not a live peer any more (its down message is on the way).
    ++node.counters.deliveries_sent_remote;
    self->send(gw, deliver_atom::value, d);
    return true;
  }
  auto verdict = node.circuits.attempt(link.peer, self->clock().now(), lim.circuit_failures,
                                       lim.circuit_probe_interval);
  if (verdict == circuit_breaker::verdict::skip) {
    link.behind = true;
    schedule_catch_up(self, node.circuits.next_probe(link.peer));
    return false;
  }
  ++node.counters.deliveries_sent_remote;
  if (link.behind) {
    link.behind = false;
    // A message.new or a cursor reveals the gap by itself; a presence update does not.
    if (d.kind == delivery_kind::control)
      self->send(gw, deliver_atom::value, cursor_delivery(st));
  }
  auto now = self->clock().now();
  if (verdict == circuit_breaker::verdict::probe
      || (!link.confirming && now - link.confirm_sent >= lim.internode_deadline / 5))
    confirmed_send(self, gw, d, link.peer);
  else
    self->send(gw, deliver_atom::value, d);
  return true;
}

/// Sends one delivery to every gateway with online members: O(nodes), not O(members).
void broadcast(channel_actor self, const delivery& d) {
  for (auto& [gw, count] : self->state.gateways)
    deliver_to(self, gw, d);
}

void remember_ack(channel_state& st, const std::string& key, const send_ack& ack) {
  if (st.acked.emplace(key, ack).second) {
    st.acked_order.push_back(key);
    if (st.acked_order.size() > st.node->limits.dedup_cache) {
      st.acked.erase(st.acked_order.front());
      st.acked_order.pop_front();
    }
  }
}

send_ack ack_of(const chat_message& m) {
  return send_ack{m.client_msg_id, m.channel, m.seq, m.ts};
}

void touch(channel_actor self) {
  self->state.last_active = self->clock().now();
}

// -- passivation ---------------------------------------------------------------------------

bool quiet(const channel_state& st) {
  return st.gateways.empty() && st.pending.empty() && st.committing.empty();
}

void schedule_idle_check(channel_actor self) {
  auto& st = self->state;
  if (st.idle_check_scheduled || !quiet(st))
    return;
  st.idle_check_scheduled = true;
  self->delayed_send(self, st.node->limits.channel_idle, idle_atom::value);
}

/// Leaves: every waiting sender learns `unavailable`, the next use re-activates the channel
/// from storage (which is also how a fenced, stale writer steps down).
void passivate(channel_actor self, const caf::error& reason) {
  auto& st = self->state;
  for (auto& p : st.pending)
    p.rp.deliver(reason);
  for (auto& [seq, c] : st.committing)
    for (auto& rp : c.rps)
      rp.deliver(reason);
  st.pending.clear();
  st.committing.clear();
  st.node->channels.forget(st.id, caf::actor_cast<caf::actor>(self));
  self->quit();
}

// -- presence ------------------------------------------------------------------------------

void publish_presence(channel_actor self, user_id user, presence_status status) {
  delivery d;
  d.channel = self->state.id;
  d.kind = delivery_kind::control;
  d.frame.ptr = share(encode_presence_update(user, self->state.id, status));
  broadcast(self, d);
}

void presence_changed(channel_actor self, user_id user, presence_status status) {
  auto& st = self->state;
  if (st.members.size() > st.node->limits.presence_push_members)
    return; // pull-only channel: presence.get answers from `online`
  if (st.members.size() <= st.node->limits.presence_coalesce_members) {
    publish_presence(self, user, status);
    return;
  }
  // Big channels: at most one update per user per second, the latest state wins.
  st.presence_backlog[user] = status;
  if (!st.presence_flush_scheduled) {
    st.presence_flush_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), status_atom::value);
  }
}

void set_status(channel_actor self, user_id user, const caf::actor& gw, presence_status s) {
  auto& st = self->state;
  auto before = combined_status(st, user);
  auto& per_gw = st.online[user];
  auto i = per_gw.find(gw);
  if (s == presence_status::offline) {
    if (i != per_gw.end()) {
      per_gw.erase(i);
      if (--st.gateways[gw] == 0)
        st.gateways.erase(gw);
    }
    if (per_gw.empty())
      st.online.erase(user);
  } else if (i == per_gw.end()) {
    per_gw.emplace(gw, s);
    if (st.gateways[gw]++ == 0)
      self->monitor(gw); // a node that goes down takes its online users with it
  } else {
    i->second = s;
  }
  if (auto* stats = st.slot.stats())
    stats->online.store(static_cast<uint32_t>(st.online.size()), std::memory_order_relaxed);
  auto after = combined_status(st, user);
  if (before != after)
    presence_changed(self, user, after);
}

// -- cursor mode ---------------------------------------------------------------------------

/// Messages waiting between the channels and the sockets of this node: in the gateway's
/// mailbox, and handed to the Asio lanes but not yet pushed.
int64_t fanout_backlog(const node_counters& c) {
  return static_cast<int64_t>(c.gateway_backlog.load(std::memory_order_relaxed))
         + c.lane_backlog.load(std::memory_order_relaxed);
}

/// Read-time fan-out for channels above the large threshold, and under overload (the node's
/// fan-out is backlogged) for every channel above the overload threshold: large channels
/// degrade first, DMs and small channels keep real-time push (docs/architecture.md "Backpressure").
bool read_time_fanout(const channel_state& st) {
  auto& lim = st.node->limits;
  if (st.members.size() > lim.large_channel_members)
    return true;
  return st.members.size() > lim.overload_cursor_members
         && fanout_backlog(st.node->counters) > static_cast<int64_t>(lim.overload_backlog);
}

void send_cursor(channel_actor self) {
  auto& st = self->state;
  st.cursor_dirty = false;
  st.last_cursor = self->clock().now();
  broadcast(self, cursor_delivery(st));
}

/// Read-time fan-out: at most one channel.cursor per interval (docs/architecture.md "Fan-out tiers").
void cursor_advanced(channel_actor self) {
  auto& st = self->state;
  st.cursor_dirty = true;
  if (st.cursor_scheduled)
    return;
  auto due = st.last_cursor + st.node->limits.cursor_interval;
  auto now = self->clock().now();
  if (now >= due) {
    send_cursor(self);
  } else {
    st.cursor_scheduled = true;
    self->delayed_send(self, due - now, cursor_atom::value);
  }
}

// -- send path -----------------------------------------------------------------------------

/// Step 5 of the send path: the message is durable. Ack, then deliver, in seq order.
void on_durable(channel_actor self, channel_state::committing_send& c) {
  auto& st = self->state;
  auto key = dedup_key(c.req.sender, c.msg.client_msg_id);
  st.committing_keys.erase(key);
  if (!c.outcome) {
    // Storage failed: nothing of this batch is durable. Step down and reload.
    for (auto& rp : c.rps)
      rp.deliver(make_error(error_code::unavailable));
    c.rps.clear();
    passivate(self, make_error(error_code::unavailable));
    return;
  }
  switch (c.outcome->status) {
    case storage::append_status::duplicate: {
      // Another send with this key (in another channel) won the race: its ack is the answer.
      // The seq assigned here stays an empty gap.
      auto ack = ack_of(c.outcome->original);
      remember_ack(st, key, ack);
      for (auto& rp : c.rps)
        rp.deliver(send_reply{ack, false});
      return;
    }
    case storage::append_status::seq_taken:
      // Another writer owns this seq: this actor is stale and must step down (fencing).
      for (auto& rp : c.rps)
        rp.deliver(make_error(error_code::unavailable));
      c.rps.clear();
      passivate(self, make_error(error_code::unavailable));
      return;
    case storage::append_status::stored:
      break;
  }
  auto ack = ack_of(c.msg);
  remember_ack(st, key, ack);
  ++st.node->counters.messages_acked;
  auto fanout_start = steady_ns();
  st.ring.push_back(c.msg);
  if (st.ring.size() > st.node->limits.recent_ring)
    st.ring.pop_front();
  bool written = false;
  if (read_time_fanout(st)) {
    ++st.node->counters.cursor_fanouts;
    cursor_advanced(self);
  } else {
    delivery d;
    d.channel = st.id;
    d.kind = delivery_kind::message;
    d.seq = c.msg.seq;
    d.acked_ns = fanout_start;
    d.frame.ptr = share(encode_message_new(c.msg));
    auto ack_frame = share(encode_ack(ack));
    for (auto& [gw, count] : st.gateways) {
      if (c.req.origin_gateway && gw == c.req.origin_gateway) {
        // The sender's gateway writes the ack ahead of the message.new on that connection.
        auto with_ack = d;
        with_ack.ack_conn = c.req.origin_conn;
        with_ack.ack_frame.ptr = ack_frame;
        // Not written if the sender's node is cut off: the connection writes the ack then.
        written = deliver_to(self, gw, with_ack);
      } else {
        deliver_to(self, gw, d);
      }
    }
  }
  if (auto* stats = st.slot.stats()) {
    stats->messages.fetch_add(1, std::memory_order_relaxed);
    stats->fanout->observe((steady_ns() - fanout_start) / 1e9);
  }
  for (size_t i = 0; i < c.rps.size(); ++i)
    c.rps[i].deliver(send_reply{ack, i == 0 && written});
}

void drain_committed(channel_actor self) {
  auto& st = self->state;
  while (!st.committing.empty() && st.committing.begin()->second.done && !self->getf(caf::abstract_actor::is_terminated_flag)) {
    auto c = std::move(st.committing.begin()->second);
    st.committing.erase(st.committing.begin());
    on_durable(self, c);
  }
  schedule_idle_check(self);
}

/// Steps 2-4 of the send path for the head of the queue: dedup, membership, rate limits,
/// then seq assignment and the append.
void admit(channel_actor self, channel_state::pending_send& p) {
  auto& st = self->state;
  auto& req = p.req;
  auto key = dedup_key(req.sender, req.client_msg_id);
  if (p.lookup_failed) {
    p.rp.deliver(make_error(error_code::unavailable));
    return;
  }
  if (p.original) {
    auto ack = ack_of(*p.original);
    remember_ack(st, key, ack);
    p.rp.deliver(send_reply{ack, false});
    return;
  }
  if (auto i = st.acked.find(key); i != st.acked.end()) {
    p.rp.deliver(send_reply{i->second, false});
    return;
  }
  if (auto i = st.committing_keys.find(key); i != st.committing_keys.end()) {
    st.committing[i->second].rps.push_back(p.rp);
    return;
  }
  if (!st.found) {
    p.rp.deliver(make_error(error_code::not_found));
    return;
  }
  if (!is_member(st, req.sender)) {
    p.rp.deliver(make_error(error_code::not_in_channel));
    return;
  }
  // Rate limits: a refused send consumes no token from either bucket.
  auto now = clock_us(self);
  auto b = st.buckets.find(req.sender.user);
  if (b == st.buckets.end())
    b = st.buckets
          .emplace(req.sender.user,
                   token_bucket{st.node->limits.user_rate_per_s, st.node->limits.user_burst})
          .first;
  if (!b->second.available(now) || !st.node->quota->try_take(st.workspace, now)) {
    ++st.node->counters.rate_limited;
    p.rp.deliver(make_error(error_code::rate_limited));
    return;
  }
  b->second.take();
  // Seq is assigned only here: last + 1; ts never decreases with seq.
  chat_message msg;
  msg.workspace = st.workspace;
  msg.channel = st.id;
  msg.seq = ++st.last_seq;
  msg.user = req.sender.user;
  msg.client_msg_id = req.client_msg_id;
  msg.text = req.text;
  msg.ts = std::max(now_us(), st.last_ts);
  st.last_ts = msg.ts;
  auto seq = msg.seq;
  auto& c = st.committing[seq];
  c.msg = msg;
  c.req = std::move(req);
  c.rps.push_back(p.rp);
  st.committing_keys.emplace(key, seq);
  self->request(st.node->sequencer, st.node->limits.request_timeout, append_atom::value, msg)
    .then(
      [=](const storage::append_outcome& out) {
        auto i = self->state.committing.find(seq);
        if (i == self->state.committing.end())
          return;
        i->second.done = true;
        i->second.outcome = out;
        drain_committed(self);
      },
      [=](caf::error& err) {
        auto i = self->state.committing.find(seq);
        if (i == self->state.committing.end())
          return;
        i->second.done = true;
        i->second.outcome = std::move(err);
        drain_committed(self);
      });
}

void drain_pending(channel_actor self) {
  auto& st = self->state;
  while (!st.pending.empty() && st.pending.front().looked_up) {
    auto p = std::move(st.pending.front());
    st.pending.pop_front();
    admit(self, p);
  }
  schedule_idle_check(self);
}

/// Step 1: a send arrives. Retries known here are answered at once; others wait, in arrival
/// order, for the storage lookup of their dedup key (a retry may come after a restart).
caf::result<send_reply> on_send(channel_actor self, send_request& req) {
  auto& st = self->state;
  touch(self);
  auto key = dedup_key(req.sender, req.client_msg_id);
  if (auto i = st.acked.find(key); i != st.acked.end())
    return send_reply{i->second, false};
  auto rp = self->make_response_promise();
  auto id = st.next_pending_id++;
  st.pending.push_back(channel_state::pending_send{id, std::move(req), rp, false, false, std::nullopt});
  auto& sender = st.pending.back().req.sender;
  self->request(st.node->store, st.node->limits.request_timeout, lookup_atom::value,
                sender.workspace, sender.user, st.pending.back().req.client_msg_id)
    .then(
      [=](std::vector<chat_message>& found) {
        auto& st = self->state;
        if (st.pending.empty() || id < st.pending.front().id)
          return;
        auto& p = st.pending[id - st.pending.front().id];
        p.looked_up = true;
        if (!found.empty())
          p.original = std::move(found.front());
        drain_pending(self);
      },
      [=](caf::error&) {
        auto& st = self->state;
        if (st.pending.empty() || id < st.pending.front().id)
          return;
        // Without the lookup a retry could be stored twice: refuse, the client retries.
        auto& p = st.pending[id - st.pending.front().id];
        p.looked_up = true;
        p.lookup_failed = true;
        drain_pending(self);
      });
  return rp;
}

// -- backfill ------------------------------------------------------------------------------

caf::result<backfill_page> on_backfill(channel_actor self, const principal& who, uint64_t after,
                                       uint32_t limit) {
  auto& st = self->state;
  touch(self);
  if (!st.found)
    return make_error(error_code::not_found);
  if (!is_member(st, who))
    return make_error(error_code::not_in_channel);
  limit = std::max<uint32_t>(1, std::min<uint32_t>(limit, 100));
  st.node->metrics->backfill_requests->Increment();
  backfill_page page;
  page.channel = st.id;
  page.after_seq = after;
  // The ring holds every durable message from its front on: serve from it when it covers.
  bool covered = !st.ring.empty() && (after + 1 >= st.ring.front().seq || st.ring.front().seq == 1);
  if (st.ring.empty() || after >= st.durable_seq()) {
    return page;
  }
  if (covered) {
    auto it = std::upper_bound(st.ring.begin(), st.ring.end(), after,
                               [](uint64_t s, const chat_message& m) { return s < m.seq; });
    for (; it != st.ring.end() && page.messages.size() < limit; ++it)
      page.messages.push_back(*it);
    page.has_more = it != st.ring.end();
    st.node->metrics->backfill_rows->Increment(static_cast<double>(page.messages.size()));
    return page;
  }
  auto rp = self->make_response_promise();
  self->request(st.node->store, st.node->limits.request_timeout, read_atom::value, st.workspace,
                st.id, after, limit + 1)
    .then(
      [=](std::vector<chat_message>& rows) mutable {
        backfill_page page;
        page.channel = self->state.id;
        page.after_seq = after;
        page.has_more = rows.size() > limit;
        if (page.has_more)
          rows.resize(limit);
        page.messages = std::move(rows);
        self->state.node->metrics->backfill_rows->Increment(
          static_cast<double>(page.messages.size()));
        rp.deliver(std::move(page));
      },
      [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
  return rp;
}

// -- membership ----------------------------------------------------------------------------

void announce_joined(channel_actor self, const std::vector<user_id>& users) {
  auto& st = self->state;
  for (auto& gw : st.node->all_gateways())
    self->send(gw, joined_atom::value, st.id, st.workspace, users, st.durable_seq());
}

caf::behavior running(channel_actor self) {
  return {
    [=](send_atom, send_request& req) -> caf::result<send_reply> {
      auto probe = metrics_probe(self, actor_kind::channel);
      return on_send(self, req);
    },
    [=](attach_atom, const principal& who, const caf::actor& gw,
        presence_status s) -> caf::result<uint64_t> {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      touch(self);
      if (s != presence_status::offline && !is_member(st, who))
        return make_error(st.found ? error_code::not_in_channel : error_code::not_found);
      if (is_member(st, who) || s == presence_status::offline)
        set_status(self, who.user, gw, s);
      schedule_idle_check(self);
      return st.durable_seq();
    },
    [=](backfill_atom, const principal& who, uint64_t after, uint32_t limit) {
      auto probe = metrics_probe(self, actor_kind::channel);
      return on_backfill(self, who, after, limit);
    },
    [=](who_atom, const principal& who) -> caf::result<std::vector<presence_entry>> {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      if (!st.found)
        return make_error(error_code::not_found);
      if (!is_member(st, who))
        return make_error(error_code::not_in_channel);
      std::vector<presence_entry> result;
      for (auto& [user, per_gw] : st.online) {
        auto s = combined_status(st, user);
        if (s != presence_status::offline)
          result.push_back(presence_entry{user, s});
      }
      std::sort(result.begin(), result.end(),
                [](auto& a, auto& b) { return a.user < b.user; });
      return result;
    },
    [=](add_atom, const std::vector<user_id>& users) -> caf::result<std::vector<user_id>> {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      if (!st.found)
        return make_error(error_code::not_found);
      auto rp = self->make_response_promise();
      self->request(st.node->store, st.node->limits.request_timeout, add_atom::value,
                    st.workspace, st.id, users)
        .then(
          [=](std::vector<user_id>& added) mutable {
            for (auto u : added)
              self->state.members.insert(u);
            if (!added.empty())
              announce_joined(self, added);
            rp.deliver(added);
          },
          [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
      return rp;
    },
    [=](remove_atom, user_id user) -> caf::result<bool> {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      if (!st.found)
        return make_error(error_code::not_found);
      auto rp = self->make_response_promise();
      self->request(st.node->store, st.node->limits.request_timeout, remove_atom::value,
                    st.workspace, st.id, user)
        .then(
          [=](bool removed) mutable {
            auto& st = self->state;
            if (removed) {
              st.members.erase(user);
              if (auto i = st.online.find(user); i != st.online.end()) {
                for (auto& [gw, s] : i->second)
                  if (--st.gateways[gw] == 0)
                    st.gateways.erase(gw);
                st.online.erase(i);
                if (auto* stats = st.slot.stats())
                  stats->online.store(static_cast<uint32_t>(st.online.size()),
                                      std::memory_order_relaxed);
              }
              for (auto& gw : st.node->all_gateways())
                self->send(gw, left_atom::value, st.id, st.workspace, user);
            }
            rp.deliver(removed);
          },
          [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
      return rp;
    },
    [=](idle_atom) {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      st.idle_check_scheduled = false;
      if (!quiet(st))
        return;
      auto idle_for = self->clock().now() - st.last_active;
      // An unknown channel leaves as soon as it answered: ids cost nothing to make up.
      if (!st.found || idle_for >= st.node->limits.channel_idle) {
        st.node->channels.forget(st.id, caf::actor_cast<caf::actor>(self));
        self->quit();
      } else {
        st.idle_check_scheduled = true;
        self->delayed_send(self, st.node->limits.channel_idle - idle_for, idle_atom::value);
      }
    },
    [=](cursor_atom) {
      auto probe = metrics_probe(self, actor_kind::channel);
      self->state.cursor_scheduled = false;
      if (self->state.cursor_dirty)
        send_cursor(self);
    },
    [=](catchup_atom) {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      if (self->clock().now() >= st.catch_up_at)
        st.catch_up_scheduled = false; // else an earlier tick was superseded: a later one is due
      std::vector<caf::actor> owed;
      for (auto i = st.links.begin(); i != st.links.end();) {
        if (st.gateways.count(i->first) == 0) {
          i = st.links.erase(i); // nobody online there any more
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
        deliver_to(self, gw, d); // skipped again: reschedules itself
    },
    [=](status_atom) {
      auto probe = metrics_probe(self, actor_kind::channel);
      auto& st = self->state;
      st.presence_flush_scheduled = false;
      auto backlog = std::move(st.presence_backlog);
      st.presence_backlog.clear();
      for (auto& [user, s] : backlog)
        publish_presence(self, user, s);
    },
  };
}

} // namespace

std::string dedup_key(const principal& who, const std::string& client_msg_id) {
  return std::to_string(who.workspace.value) + ':' + std::to_string(who.user.value) + ':'
         + client_msg_id;
}

caf::behavior channel(caf::stateful_actor<channel_state>* self, node_ptr node, channel_id id) {
  auto& st = self->state;
  st.node = std::move(node);
  st.id = id;
  st.last_active = self->clock().now();
  st.slot = actor_slot(st.node->metrics, actor_kind::channel, self->id(), id.str());
  // A node that went down takes its online users with it.
  self->set_down_handler([=](caf::down_msg& dm) {
  auto probe = metrics_probe(self, actor_kind::channel);
    std::vector<std::pair<user_id, caf::actor>> gone;
    for (auto& [user, per_gw] : self->state.online)
      for (auto& [gw, s] : per_gw)
        if (gw.address() == dm.source)
          gone.emplace_back(user, gw);
    for (auto& [user, gw] : gone)
      set_status(self, user, gw, presence_status::offline);
    for (auto i = self->state.links.begin(); i != self->state.links.end();)
      i = i->first.address() == dm.source ? self->state.links.erase(i) : std::next(i);
    schedule_idle_check(self);
  });
  // Activation: everything waits (skipped, kept in the mailbox) until the snapshot is loaded.
  self->set_default_handler(caf::skip);
  self->request(st.node->store, st.node->limits.request_timeout, load_atom::value, id)
    .then(
      [=](channel_snapshot& snap) {
        auto& st = self->state;
        st.found = snap.found;
        st.workspace = snap.workspace;
        st.members.insert(snap.members.begin(), snap.members.end());
        st.last_seq = snap.latest_seq;
        for (auto& m : snap.recent) {
          st.last_ts = std::max(st.last_ts, m.ts);
          st.ring.push_back(std::move(m));
        }
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
        if (st.found) {
          // A re-activated channel (after stepping down or re-homing) does not know who is
          // online: every node's presence re-attaches its users of this channel.
          for (auto& gw : st.node->all_gateways())
            self->send(gw, rehome_atom::value, st.id);
          schedule_idle_check(self);
        } else {
          st.idle_check_scheduled = true;
          self->delayed_send(self, std::chrono::seconds(1), idle_atom::value);
        }
      },
      [=](caf::error&) {
        self->state.node->channels.forget(self->state.id, caf::actor_cast<caf::actor>(self));
        self->quit(make_error(error_code::unavailable));
      });
  return {
    [=](idle_atom) {
      auto probe = metrics_probe(self, actor_kind::channel);
      // Activation in progress: nothing to do.
    },
  };
}

} // namespace parley
