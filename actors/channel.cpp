#include "actors/channel.hpp"

#include <algorithm>

#include <caf/skip.hpp>

#include "actors/errors.hpp"
#include "actors/log.hpp"
#include "protocol/clock.hpp"

namespace parley {

namespace {

int64_t clock_us(channel_self self) {
  using namespace std::chrono;
  return duration_cast<microseconds>(self->clock().now().time_since_epoch()).count();
}

bool is_member(const channel_state& st, const principal& who) {
  return st.found && who.workspace == st.workspace && st.members.count(who.user) > 0;
}

/// Remembers the ack of `key` for retries, forgetting the oldest beyond limits.dedup_cache.
// `key` by value: every caller is done with its key, so the order entry takes it over.
void remember_ack(channel_state& st, std::string key, const send_ack& ack) {
  if (st.acked.try_emplace(key, ack).second) {
    st.acked_order.push_back(std::move(key));
    if (st.acked_order.size() > st.deps->env.limits.dedup_cache) {
      st.acked.erase(st.acked_order.front());
      st.acked_order.pop_front();
    }
  }
}

send_ack ack_of(const chat_message& m) {
  return send_ack{m.client_msg_id, m.channel, m.seq, m.ts};
}

void touch(channel_self self) {
  self->state.last_active = self->clock().now();
}

/// The gateways of every live node, this one's included.
std::vector<gateway_actor> every_gateway(const channel_state& st) {
  auto result = st.deps->nodes->peer_gateways();
  result.push_back(st.deps->gateway);
  return result;
}

/// Every node's gateway: membership changes reach the affected users wherever they are.
void tell_all_gateways(channel_self self, const std::vector<user_id>& joined) {
  auto& st = self->state;
  for (auto& gw : every_gateway(st))
    send_in_order(self, gw, joined_atom::value, st.id, st.workspace, joined, st.durable_seq());
}

// -- passivation ---------------------------------------------------------------------------

bool quiet(const channel_state& st) {
  return st.presence.gateways.empty() && st.pending.empty() && st.committing.empty();
}

void schedule_idle_check(channel_self self) {
  auto& st = self->state;
  if (st.idle_check_scheduled || !quiet(st))
    return;
  st.idle_check_scheduled = true;
  self->delayed_send(self, st.deps->env.limits.channel_idle, idle_atom::value);
}

void leave_directory(channel_self self) {
  if (auto directory = self->state.deps->directory.lock())
    directory->forget(self->state.id, caf::actor_cast<channel_actor>(self));
}

/// Steps down: every waiting sender learns `unavailable`, the next use re-activates the
/// channel from storage (which is also how a fenced, stale writer steps down).
void step_down(channel_self self, const char* why) {
  auto& st = self->state;
  log(log_level::warning, std::string{"channel steps down: "} + why,
      {{"actor", "channel"}, {"channel", st.id.str()}});
  auto reason = make_error(error_code::unavailable);
  for (auto& p : st.pending)
    p.rp.deliver(reason);
  for (auto& [seq, c] : st.committing)
    for (auto& rp : c.rps)
      rp.deliver(reason);
  st.pending.clear();
  st.committing.clear();
  leave_directory(self);
  self->quit();
}

// -- storage deadlines ---------------------------------------------------------------------

// The dedup lookups and appends of the send path go to storage as requests without a CAF
// timeout: CAF 0.17 registers every request timeout with its clock thread and never cancels
// it, which cost a clock entry, a wake-up and a stale message per request. Instead one tick
// per channel checks the oldest outstanding answer against the request timeout (5 s).

/// Makes sure a deadline tick is due for a storage request sent at `asked`.
void watch_deadline(channel_self self, caf::actor_clock::time_point asked) {
  auto& st = self->state;
  if (st.deadline_scheduled)
    return;
  st.deadline_scheduled = true;
  auto due = asked + st.deps->env.limits.request_timeout - self->clock().now();
  self->delayed_send(self, std::max<caf::timespan>(due, caf::timespan{0}), deadline_atom::value);
}

void drain_pending(channel_self self);

/// The deadline tick: a lookup not answered in time is refused (unavailable, the client
/// retries); an append not answered in time steps the channel down, as a failed one does.
void on_deadline(channel_self self) {
  auto& st = self->state;
  st.deadline_scheduled = false;
  auto now = self->clock().now();
  auto timeout = st.deps->env.limits.request_timeout;
  std::optional<caf::actor_clock::time_point> oldest;
  for (auto& [seq, c] : st.committing) {
    if (c.done)
      continue;
    if (now - c.asked >= timeout) {
      step_down(self, "storage did not commit in time");
      return;
    }
    oldest = oldest ? std::min(*oldest, c.asked) : c.asked;
  }
  bool refused = false;
  for (auto& p : st.pending) {
    if (p.looked_up)
      continue;
    if (now - p.asked >= timeout) {
      p.looked_up = p.lookup_failed = refused = true;
      continue;
    }
    oldest = oldest ? std::min(*oldest, p.asked) : p.asked;
  }
  if (oldest)
    watch_deadline(self, *oldest);
  if (refused)
    drain_pending(self);
}

// -- send path -----------------------------------------------------------------------------

/// Step 5 of the send path: the message is durable. Ack, then deliver, in seq order.
void on_durable(channel_self self, channel_state::committing_send& c) {
  auto& st = self->state;
  st.committing_keys.erase(c.key);
  if (!c.outcome) {
    // Storage failed: nothing of this batch is durable. Step down and reload.
    for (auto& rp : c.rps)
      rp.deliver(make_error(error_code::unavailable));
    c.rps.clear();
    step_down(self, "storage failed to commit");
    return;
  }
  switch (c.outcome->status) {
    case storage::append_status::duplicate: {
      // Another send with this key (in another channel) won the race: its ack is the answer.
      // The seq assigned here stays an empty gap.
      auto ack = ack_of(c.outcome->original);
      remember_ack(st, std::move(c.key), ack);
      for (auto& rp : c.rps)
        rp.deliver(send_reply{ack, false});
      return;
    }
    case storage::append_status::seq_taken:
      // Another writer owns this seq: this actor is stale and must step down (fencing).
      for (auto& rp : c.rps)
        rp.deliver(make_error(error_code::unavailable));
      c.rps.clear();
      step_down(self, "another writer took its seq (fenced)");
      return;
    case storage::append_status::stored:
      break;
  }
  auto ack = ack_of(c.msg);
  remember_ack(st, std::move(c.key), ack);
  ++st.deps->env.counters->messages_acked;
  auto fanout_start = steady_ns();
  st.ring.push_back(c.msg);
  if (st.ring.size() > st.deps->env.limits.recent_ring)
    st.ring.pop_front();
  bool written = fan_out_message(self, c.msg, ack, c.req.origin_gateway, c.req.origin_conn);
  if (auto* stats = st.slot.stats()) {
    stats->messages.fetch_add(1, std::memory_order_relaxed);
    stats->fanout->observe((steady_ns() - fanout_start) / 1e9);
  }
  for (size_t i = 0; i < c.rps.size(); ++i)
    c.rps[i].deliver(send_reply{ack, i == 0 && written});
}

void drain_committed(channel_self self) {
  auto& st = self->state;
  while (!st.committing.empty() && st.committing.begin()->second.done
         && !self->getf(caf::abstract_actor::is_terminated_flag)) {
    auto c = std::move(st.committing.begin()->second);
    st.committing.erase(st.committing.begin());
    on_durable(self, c);
  }
  schedule_idle_check(self);
}

/// The group commit answered (or failed) the append of `seq`.
void committed(channel_self self, uint64_t seq, caf::expected<storage::append_outcome> out) {
  auto i = self->state.committing.find(seq);
  if (i == self->state.committing.end())
    return;
  i->second.done = true;
  i->second.outcome = std::move(out);
  drain_committed(self);
}

/// Membership and rate limits, checked after dedup: the error a send is refused with, if any.
/// An admitted send takes a token from both buckets, a refused one from neither.
std::optional<error_code> refusal(channel_self self, const principal& sender) {
  auto& st = self->state;
  if (!st.found)
    return error_code::not_found;
  if (!is_member(st, sender))
    return error_code::not_in_channel;
  auto now = clock_us(self);
  auto& bucket = st.buckets
                   .try_emplace(sender.user, st.deps->env.limits.user_rate_per_s,
                                st.deps->env.limits.user_burst)
                   .first->second;
  if (!bucket.available(now) || !st.quota->try_take(now)) {
    ++st.deps->env.counters->rate_limited;
    return error_code::rate_limited;
  }
  bucket.take();
  return std::nullopt;
}

/// Steps 2-4 of the send path for the head of the queue: dedup, membership, rate limits,
/// then seq assignment and the append. False: the send would be refused, and its dedup key
/// must be looked up in storage first (a retry of an acked message gets its ack, not an error).
bool admit(channel_self self, channel_state::pending_send& p) {
  auto& st = self->state;
  auto& req = p.req;
  if (p.lookup_failed) {
    p.rp.deliver(make_error(error_code::unavailable));
    return true;
  }
  if (p.original) {
    auto ack = ack_of(*p.original);
    remember_ack(st, std::move(p.key), ack);
    p.rp.deliver(send_reply{ack, false});
    return true;
  }
  if (auto i = st.acked.find(p.key); i != st.acked.end()) {
    p.rp.deliver(send_reply{i->second, false});
    return true;
  }
  // One lookup finds a send of this key in flight (this one joins its answer) or claims the
  // key for this send, its seq set once assigned; a refused send gives the key back. Nothing
  // inserts into committing_keys until then, so `in_flight` stays valid.
  auto [in_flight, claimed] = st.committing_keys.try_emplace(p.key);
  if (!claimed) {
    st.committing[in_flight->second].rps.push_back(p.rp);
    return true;
  }
  if (auto refused = refusal(self, req.sender)) {
    st.committing_keys.erase(in_flight);
    if (!p.storage_checked && !req.client_msg_id.empty())
      return false;
    p.rp.deliver(make_error(*refused));
    return true;
  }
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
  c.key = std::move(p.key);
  c.rps.push_back(p.rp);
  c.asked = self->clock().now();
  in_flight->second = seq;
  watch_deadline(self, c.asked);
  self->request(st.deps->group_commit, caf::infinite, append_atom::value, msg)
    .then([=](const storage::append_outcome& out) { committed(self, seq, out); },
          [=](caf::error& err) { committed(self, seq, std::move(err)); });
  return true;
}

void looked_up(channel_self self, uint64_t id, std::vector<chat_message>* found);

/// Asks storage for the stored original of pending send `p`; sends behind it wait.
void look_up(channel_self self, channel_state::pending_send& p) {
  auto& st = self->state;
  p.looked_up = false;
  p.storage_checked = true;
  p.asked = self->clock().now();
  watch_deadline(self, p.asked);
  auto id = p.id;
  self->request(st.deps->store, caf::infinite, dedup_atom::value, p.req.sender.workspace,
                p.req.sender.user, p.req.client_msg_id)
    .then([=](std::vector<chat_message>& found) { looked_up(self, id, &found); },
          [=](caf::error&) { looked_up(self, id, nullptr); });
}

void drain_pending(channel_self self) {
  auto& st = self->state;
  while (!st.pending.empty() && st.pending.front().looked_up) {
    if (!admit(self, st.pending.front())) {
      look_up(self, st.pending.front());
      break;
    }
    st.pending.pop_front();
  }
  schedule_idle_check(self);
}

/// The storage lookup of pending send `id` finished: `found` is the stored original, if any.
void looked_up(channel_self self, uint64_t id, std::vector<chat_message>* found) {
  auto& st = self->state;
  if (st.pending.empty() || id < st.pending.front().id)
    return;
  auto& p = st.pending[id - st.pending.front().id];
  if (p.looked_up)
    return; // answered after its deadline: already refused
  p.looked_up = true;
  if (!found) // without the lookup a retry could be stored twice: refuse, the client retries
    p.lookup_failed = true;
  else if (!found->empty())
    p.original = std::move(found->front());
  drain_pending(self);
}

/// Step 1: a send arrives. Retries known here are answered at once; others are admitted in
/// arrival order. The dedup key goes to storage first only in the channel's first request
/// timeout (5 s) after activation, when clients resend what a restart or re-home left
/// unacked, and for a send about to be refused. Otherwise the group commit's unique key finds
/// a stored original (docs/architecture.md "Dedup"): a lookup per send cost ~10 % of a
/// node's CPU samples plus two actor messages (bench/RESULTS.md).
caf::result<send_reply> on_send(channel_self self, send_request& req) {
  auto& st = self->state;
  touch(self);
  auto key = dedup_key(req.sender, req.client_msg_id);
  if (auto i = st.acked.find(key); i != st.acked.end())
    return send_reply{i->second, false};
  auto rp = self->make_response_promise<send_reply>();
  auto& p = st.pending.emplace_back();
  p.id = st.next_pending_id++;
  p.req = std::move(req);
  p.key = std::move(key);
  p.rp = rp;
  if (self->clock().now() - st.activated_at < st.deps->env.limits.request_timeout)
    look_up(self, p);
  drain_pending(self);
  return rp;
}

// -- backfill ------------------------------------------------------------------------------

caf::result<backfill_page> on_backfill(channel_self self, const principal& who, uint64_t after,
                                       uint32_t limit) {
  auto& st = self->state;
  touch(self);
  if (!st.found)
    return make_error(error_code::not_found);
  if (!is_member(st, who))
    return make_error(error_code::not_in_channel);
  limit = std::max<uint32_t>(1, std::min<uint32_t>(limit, 100));
  st.deps->env.metrics->backfill_requests->Increment();
  backfill_page page;
  page.channel = st.id;
  page.after_seq = after;
  if (st.ring.empty() || after >= st.durable_seq())
    return page;
  // The ring holds every durable message from its front on: serve from it when it covers.
  if (after + 1 >= st.ring.front().seq || st.ring.front().seq == 1) {
    auto it = std::upper_bound(st.ring.begin(), st.ring.end(), after,
                               [](uint64_t s, const chat_message& m) { return s < m.seq; });
    for (; it != st.ring.end() && page.messages.size() < limit; ++it)
      page.messages.push_back(*it);
    page.has_more = it != st.ring.end();
    st.deps->env.metrics->backfill_rows->Increment(static_cast<double>(page.messages.size()));
    return page;
  }
  auto rp = self->make_response_promise<backfill_page>();
  self->request(st.deps->store, st.deps->env.limits.request_timeout, read_atom::value, st.workspace,
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
        self->state.deps->env.metrics->backfill_rows->Increment(
          static_cast<double>(page.messages.size()));
        rp.deliver(std::move(page));
      },
      [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
  return rp;
}

// -- membership ----------------------------------------------------------------------------

caf::result<std::vector<user_id>> on_add(channel_self self, const std::vector<user_id>& users) {
  auto& st = self->state;
  if (!st.found)
    return make_error(error_code::not_found);
  auto rp = self->make_response_promise<std::vector<user_id>>();
  self->request(st.deps->store, st.deps->env.limits.request_timeout, add_members_atom::value,
                st.workspace, st.id, users)
    .then(
      [=](std::vector<user_id>& added) mutable {
        for (auto u : added)
          self->state.members.insert(u);
        if (!added.empty())
          tell_all_gateways(self, added);
        rp.deliver(added);
      },
      [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
  return rp;
}

caf::result<bool> on_remove(channel_self self, user_id user) {
  auto& st = self->state;
  if (!st.found)
    return make_error(error_code::not_found);
  auto rp = self->make_response_promise<bool>();
  self->request(st.deps->store, st.deps->env.limits.request_timeout, rm_member_atom::value,
                st.workspace, st.id, user)
    .then(
      [=](bool removed) mutable {
        auto& st = self->state;
        if (removed) {
          st.members.erase(user);
          drop_member(self, user);
          for (auto& gw : every_gateway(st))
            send_in_order(self, gw, left_atom::value, st.id, st.workspace, user);
        }
        rp.deliver(removed);
      },
      [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
  return rp;
}

void on_idle(channel_self self) {
  auto& st = self->state;
  st.idle_check_scheduled = false;
  if (!quiet(st))
    return;
  auto idle_for = self->clock().now() - st.last_active;
  // An unknown channel leaves as soon as it answered: ids cost nothing to make up.
  if (!st.found || idle_for >= st.deps->env.limits.channel_idle) {
    leave_directory(self);
    self->quit();
  } else {
    st.idle_check_scheduled = true;
    self->delayed_send(self, st.deps->env.limits.channel_idle - idle_for, idle_atom::value);
  }
}

channel_actor::behavior_type running(channel_self self) {
  return {
    [=](send_atom, send_request& req) -> caf::result<send_reply> {
      auto probe = metrics_probe(self);
      return on_send(self, req);
    },
    [=](attach_atom, const principal& who, const gateway_actor& gw, presence_status s,
        uint64_t stamp) -> caf::result<uint64_t> {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      touch(self);
      bool member = is_member(st, who);
      if (s != presence_status::offline && !member)
        return make_error(st.found ? error_code::not_in_channel : error_code::not_found);
      set_member_status(self, who, gw, s, stamp);
      schedule_idle_check(self);
      return st.durable_seq();
    },
    [=](backfill_atom, const principal& who, uint64_t after,
        uint32_t limit) -> caf::result<backfill_page> {
      auto probe = metrics_probe(self);
      return on_backfill(self, who, after, limit);
    },
    [=](who_atom, const principal& who) -> caf::result<std::vector<presence_entry>> {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      if (!st.found)
        return make_error(error_code::not_found);
      if (!is_member(st, who))
        return make_error(error_code::not_in_channel);
      return present_members(st);
    },
    [=](add_atom, const std::vector<user_id>& users) -> caf::result<std::vector<user_id>> {
      auto probe = metrics_probe(self);
      return on_add(self, users);
    },
    [=](remove_atom, user_id user) -> caf::result<bool> {
      auto probe = metrics_probe(self);
      return on_remove(self, user);
    },
    [=](announce_atom, const std::vector<user_id>& members) {
      auto probe = metrics_probe(self);
      if (self->state.found)
        tell_all_gateways(self, members);
    },
    [=](idle_atom) {
      auto probe = metrics_probe(self);
      on_idle(self);
    },
    [=](cursor_atom) {
      auto probe = metrics_probe(self);
      on_cursor_tick(self);
    },
    [=](catchup_atom) {
      auto probe = metrics_probe(self);
      on_catch_up_tick(self);
    },
    [=](deadline_atom) {
      auto probe = metrics_probe(self);
      on_deadline(self);
    },
    [=](coalesce_atom) {
      auto probe = metrics_probe(self);
      on_presence_flush(self);
    },
  };
}

/// Activation loaded the snapshot: start serving what waited in the mailbox.
void activated(channel_self self, channel_snapshot& snap) {
  auto& st = self->state;
  st.activated_at = self->clock().now();
  st.found = snap.found;
  st.workspace = snap.workspace;
  st.quota = st.deps->quotas->bucket(st.workspace);
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
    for (auto& gw : every_gateway(st))
      self->send(gw, rehome_atom::value, st.id);
    schedule_idle_check(self);
  } else {
    st.idle_check_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), idle_atom::value);
  }
}

} // namespace

std::string dedup_key(const principal& who, const std::string& client_msg_id) {
  return std::to_string(who.workspace.value) + ':' + std::to_string(who.user.value) + ':'
         + client_msg_id;
}

channel_actor::behavior_type channel(channel_self self, channel_deps_ptr deps, channel_id id) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.id = id;
  st.last_active = self->clock().now();
  st.slot = actor_slot(st.deps->env.metrics, actor_kind::channel, self->id(), id.str());
  // A node that went down takes its online users with it.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto probe = metrics_probe(self);
    drop_gateway(self, dm.source);
    forget_link(self, dm.source);
    schedule_idle_check(self);
  });
  // Activation: everything waits (skipped, kept in the mailbox) until the snapshot is loaded.
  self->set_default_handler(caf::skip);
  self->request(st.deps->store, st.deps->env.limits.request_timeout, load_atom::value, id)
    .then([=](channel_snapshot& snap) { activated(self, snap); },
          [=](caf::error& err) {
            log(log_level::warning, "channel cannot load from storage: " + to_string(err),
                {{"actor", "channel"}, {"channel", self->state.id.str()}});
            leave_directory(self);
            self->quit(make_error(error_code::unavailable));
          });
  // Until then only the idle tick may run; it has nothing to do.
  return {channel_actor::behavior_type::unsafe_init{},
          caf::behavior{[](idle_atom) {}}};
}

} // namespace parley
