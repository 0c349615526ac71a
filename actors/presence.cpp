#include "actors/presence.hpp"

#include <algorithm>
#include <memory>


#include "actors/errors.hpp"
#include "protocol/clock.hpp"
#include "actors/gateway.hpp"
#include "actors/presence_home.hpp"

namespace parley {

namespace {

presence_status status_of(const presence_state::user_entry& e) {
  if (e.connections.empty())
    return presence_status::offline;
  return e.away ? presence_status::away : presence_status::online;
}

/// Tells one channel the user's status on this node; the reply is not needed.
void tell(presence_self self, channel_id ch, const presence_state::user_entry& e) {
  auto& st = self->state;
  self->request(st.deps.channels->get(ch), st.deps.env.limits.request_timeout, attach_atom::value,
                e.who, st.gateway, status_of(e), e.away_stamp)
    .then([](uint64_t) {}, [](caf::error&) {});
}

/// Mirrors the user's state outside the node (storage/presence_mirror.hpp, the presence
/// topic of storage/event_export.hpp) when configured; both only queue, never block.
void publish(presence_self self, const presence_state::user_entry& e, bool transition) {
  auto& deps = self->state.deps;
  if (deps.mirror) {
    if (e.connections.empty())
      deps.mirror->offline(e.who);
    else
      deps.mirror->online(e.who, e.channels);
  }
  if (transition && deps.exporter)
    deps.exporter->presence({e.who, deps.env.name, status_of(e), now_us()});
}

void tell_all(presence_self self, const presence_state::user_entry& e) {
  ++self->state.transitions;
  self->state.deps.env.metrics->presence_transitions->Increment();
  for (auto ch : e.channels)
    tell(self, ch, e);
}

/// A stamp for a presence.set here: the wall clock in µs, so that the latest set on any node
/// wins, and strictly increasing on this node.
uint64_t next_stamp(presence_state& st) {
  st.last_stamp = std::max(static_cast<uint64_t>(now_us()), st.last_stamp + 1);
  return st.last_stamp;
}

/// Tells the user's presence home (this node or a peer, placement::home_of) this node's word
/// on it, as tell() does for a channel.
void report_home(presence_self self, const presence_state::user_entry& e) {
  auto& st = self->state;
  auto home = st.deps.nodes->home_of(user_key(e.who));
  if (home == st.deps.nodes->self())
    home_report(self, e.who, st.gateway, status_of(e), e.away_stamp);
  else if (auto peer = st.deps.nodes->presence_of(home))
    self->send(peer, report_atom::value, e.who, st.gateway, status_of(e), e.away_stamp);
}

/// The entry of a user connected here, null if it has none.
presence_state::user_entry* find_user(presence_self self, const principal& who) {
  auto i = self->state.users.find(user_key(who));
  return i == self->state.users.end() ? nullptr : &i->second;
}

} // namespace

presence_actor::behavior_type presence(presence_self self, presence_deps deps) {
  self->state.deps = std::move(deps);
  self->state.slot
    = actor_slot(self->state.deps.env.metrics, actor_kind::presence, self->id(), "presence");
  return {
    [=](wire_atom, gateway_actor gw) { self->state.gateway = std::move(gw); },
    [=](connect_atom, const principal& who, uint64_t conn,
        const std::vector<channel_id>& channels) -> caf::result<std::vector<channel_position>> {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      auto& e = st.users[user_key(who)];
      e.who = who;
      bool was_offline = e.connections.empty();
      e.connections.insert(conn);
      for (auto ch : channels)
        if (std::find(e.channels.begin(), e.channels.end(), ch) == e.channels.end())
          e.channels.push_back(ch);
      if (was_offline) {
        ++st.transitions;
        st.deps.env.metrics->presence_transitions->Increment();
        report_home(self, e);
      }
      publish(self, e, was_offline);
      if (channels.empty())
        return std::vector<channel_position>{};
      // Attach to every channel (idempotent for a user already online here) and collect the
      // latest seqs for hello_ack; a channel that refuses is left out.
      struct fan_in {
        std::vector<channel_position> positions;
        size_t outstanding;
        caf::typed_response_promise<std::vector<channel_position>> rp;
      };
      auto acc = std::make_shared<fan_in>();
      acc->outstanding = channels.size();
      acc->rp = self->make_response_promise<std::vector<channel_position>>();
      auto status = status_of(e);
      for (auto ch : channels) {
        auto done = [acc] {
          if (--acc->outstanding == 0) {
            std::sort(acc->positions.begin(), acc->positions.end(),
                      [](auto& a, auto& b) { return a.channel < b.channel; });
            acc->rp.deliver(acc->positions);
          }
        };
        self->request(st.deps.channels->get(ch), st.deps.env.limits.request_timeout,
                      attach_atom::value, who, st.gateway, status, e.away_stamp)
          .then(
            [=](uint64_t latest) {
              acc->positions.push_back(channel_position{ch, latest});
              done();
            },
            [=](caf::error&) { done(); });
      }
      return acc->rp;
    },
    [=](disconn_atom, const principal& who, uint64_t conn) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      auto i = st.users.find(user_key(who));
      if (i == st.users.end())
        return;
      i->second.connections.erase(conn);
      if (i->second.connections.empty()) {
        tell_all(self, i->second);
        report_home(self, i->second);
        publish(self, i->second, true);
        st.users.erase(i);
      }
    },
    [=](status_atom, const principal& who, presence_status s) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      auto* e = find_user(self, who);
      if (!e)
        return;
      // Even when the flag here is unchanged: another node may have set the opposite since,
      // and the channels combine the nodes' words by stamp (they publish only transitions).
      bool changed = e->away != (s == presence_status::away);
      e->away = s == presence_status::away;
      e->away_stamp = next_stamp(st);
      if (changed) {
        ++st.transitions;
        st.deps.env.metrics->presence_transitions->Increment();
      }
      for (auto ch : e->channels)
        tell(self, ch, *e);
      report_home(self, *e);
      // The user's other nodes keep the flag too, for their own re-attaches.
      for (auto& gw : st.deps.nodes->peer_gateways())
        self->send(gw, away_atom::value, who, e->away, e->away_stamp);
      publish(self, *e, changed);
    },
    [=](away_atom, const principal& who, bool away, uint64_t stamp) {
      auto probe = metrics_probe(self);
      auto* e = find_user(self, who);
      if (!e || stamp <= e->away_stamp)
        return;
      e->away = away;
      e->away_stamp = stamp;
    },
    [=](joined_atom, const principal& who, channel_id ch) {
      auto probe = metrics_probe(self);
      auto* e = find_user(self, who);
      if (!e)
        return;
      if (std::find(e->channels.begin(), e->channels.end(), ch) == e->channels.end())
        e->channels.push_back(ch);
      tell(self, ch, *e);
      publish(self, *e, false);
    },
    [=](rehome_atom) {
      auto probe = metrics_probe(self);
      // Cluster membership changed: channels and users may have new owners and homes that
      // do not know who is online here yet. Attaching and reporting are idempotent.
      home_sweep(self);
      for (auto& [key, e] : self->state.users) {
        for (auto ch : e.channels)
          tell(self, ch, e);
        report_home(self, e);
      }
      // Watched users may have new homes too.
      self->send(self->state.gateway, rehome_atom::value);
    },
    [=](rehome_atom, channel_id ch) {
      auto probe = metrics_probe(self);
      for (auto& [key, e] : self->state.users)
        if (std::find(e.channels.begin(), e.channels.end(), ch) != e.channels.end())
          tell(self, ch, e);
    },
    [=](report_atom, const principal& who, const gateway_actor& gw, presence_status s,
        uint64_t stamp) {
      auto probe = metrics_probe(self);
      home_report(self, who, gw, s, stamp);
    },
    [=](subscribe_atom, workspace_id ws, const std::vector<user_id>& users,
        const gateway_actor& subscriber) {
      auto probe = metrics_probe(self);
      return home_subscribe(self, ws, users, subscriber);
    },
    [=](unsub_atom, workspace_id ws, const std::vector<user_id>& users,
        const gateway_actor& subscriber) {
      auto probe = metrics_probe(self);
      home_unsubscribe(self, ws, users, subscriber);
    },
    [=](coalesce_atom, const principal& who) {
      auto probe = metrics_probe(self);
      home_flush(self, who);
    },
    [=](left_atom, const principal& who, channel_id ch) {
      auto probe = metrics_probe(self);
      auto* e = find_user(self, who);
      if (!e)
        return;
      e->channels.erase(std::remove(e->channels.begin(), e->channels.end(), ch), e->channels.end());
      publish(self, *e, false);
    },
  };
}

} // namespace parley
