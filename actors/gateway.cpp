#include "actors/gateway.hpp"

#include <algorithm>
#include <iterator>


#include "actors/errors.hpp"
#include "actors/gateway_watch.hpp"

namespace parley {

namespace {

void erase_value(std::vector<uint64_t>& xs, uint64_t x) {
  xs.erase(std::remove(xs.begin(), xs.end(), x), xs.end());
}

void route(gateway_state& st, uint64_t conn, channel_id ch) {
  auto& r = st.routes[ch];
  if (std::find(r.begin(), r.end(), conn) == r.end())
    r.push_back(conn);
}

void unroute(gateway_state& st, uint64_t conn, channel_id ch) {
  auto i = st.routes.find(ch);
  if (i == st.routes.end())
    return;
  erase_value(i->second, conn);
  if (i->second.empty())
    st.routes.erase(i);
}

void push(gateway_state& st, const delivery& d) {
  ++st.deliveries;
  if (d.kind == delivery_kind::message)
    ++st.env.counters->deliveries_received;
  if (d.ack_conn != 0) {
    if (auto i = st.connections.find(d.ack_conn); i != st.connections.end())
      i->second.sink->push_control(d.ack_frame.ptr);
  }
  auto r = st.routes.find(d.channel);
  if (r == st.routes.end())
    return;
  // message.new goes to each lane (Asio thread) in one batch; a node has only a few lanes.
  std::vector<std::pair<fanout_lane*, std::vector<sink_ptr>>> batches;
  for (auto conn : r->second) {
    auto& sink = st.connections[conn].sink;
    ++st.pushes;
    if (d.kind != delivery_kind::message) {
      sink->push_control(d.frame.ptr);
      continue;
    }
    auto* lane = sink->lane();
    if (lane == nullptr) {
      sink->push_message(d.frame.ptr, d.channel, d.seq, d.acked_ns);
      continue;
    }
    auto b = std::find_if(batches.begin(), batches.end(),
                          [lane](const auto& x) { return x.first == lane; });
    if (b == batches.end()) {
      batches.emplace_back(lane, std::vector<sink_ptr>{});
      b = std::prev(batches.end());
      b->second.reserve(r->second.size());
    }
    b->second.push_back(sink);
  }
  for (auto& [lane, sinks] : batches)
    lane->push_message(std::move(sinks), d.frame.ptr, d.channel, d.seq, d.acked_ns);
  st.env.counters->frames_pushed += r->second.size();
}

} // namespace

std::string user_key(const principal& who) {
  return who.workspace.str() + ':' + who.user.str();
}

gateway_actor::behavior_type gateway(gateway_self self, node_env env, storage_actor store,
                                     presence_actor presence, std::shared_ptr<placement> nodes) {
  self->state.env = std::move(env);
  self->state.store = std::move(store);
  self->state.presence = std::move(presence);
  self->state.nodes = std::move(nodes);
  self->state.slot =
    actor_slot(self->state.env.metrics, actor_kind::gateway, self->id(), "gateway");
  return {
    [=](register_atom, uint64_t conn, const principal& who,
        sink_ptr sink) -> caf::result<std::vector<channel_position>> {
      auto probe = metrics_probe(self);
      auto rp = self->make_response_promise<std::vector<channel_position>>();
      auto& st = self->state;
      // Routed before presence attaches to the channels, so no delivery can miss it; the
      // sink holds frames until the connection releases it after hello_ack.
      st.connections[conn] = gateway_state::connection_entry{who, std::move(sink), {}};
      st.by_user[user_key(who)].push_back(conn);
      self->request(st.store, st.env.limits.request_timeout, channels_atom::value,
                    who.workspace, who.user)
        .then(
          [=](std::vector<channel_id>& channels) mutable {
            auto& st = self->state;
            auto i = st.connections.find(conn);
            if (i == st.connections.end()) {
              rp.deliver(make_error(error_code::unavailable)); // closed meanwhile
              return;
            }
            i->second.channels = channels;
            for (auto ch : channels)
              route(st, conn, ch);
            self->request(st.presence, st.env.limits.request_timeout * 2,
                          connect_atom::value, who, conn, channels)
              .then([=](std::vector<channel_position>& pos) mutable { rp.deliver(pos); },
                    [=](caf::error& err) mutable { rp.deliver(err); });
          },
          [=](caf::error&) mutable { rp.deliver(make_error(error_code::unavailable)); });
      return rp;
    },
    [=](unregister_atom, uint64_t conn) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      auto i = st.connections.find(conn);
      if (i == st.connections.end())
        return;
      for (auto ch : i->second.channels)
        unroute(st, conn, ch);
      unwatch(self, conn, i->second.who.workspace, std::vector<user_id>(i->second.watching));
      auto key = user_key(i->second.who);
      erase_value(st.by_user[key], conn);
      if (st.by_user[key].empty())
        st.by_user.erase(key);
      self->send(st.presence, disconn_atom::value, i->second.who, conn);
      st.connections.erase(i);
    },
    [=](deliver_atom, const delivery& d) {
      auto probe = metrics_probe(self);
      self->state.env.counters->gateway_backlog = self->mailbox().size();
      push(self->state, d);
    },
    [=](deliver_atom, const delivery_batch& batch) {
      auto probe = metrics_probe(self);
      self->state.env.counters->gateway_backlog = self->mailbox().size();
      for (auto& d : batch.items)
        push(self->state, d);
    },
    [=](rehome_atom, channel_id ch) {
      auto probe = metrics_probe(self);
      // A channel actor (re)activated: presence tells it who is online here.
      self->send(self->state.presence, rehome_atom::value, ch);
    },
    [=](away_atom a, const principal& who, bool away, uint64_t stamp) {
      auto probe = metrics_probe(self);
      self->send(self->state.presence, a, who, away, stamp);
    },
    [=](watch_atom, uint64_t conn, workspace_id ws,
        const std::vector<user_id>& users) -> caf::result<std::vector<presence_entry>> {
      auto probe = metrics_probe(self);
      return watch(self, conn, ws, users);
    },
    [=](unwatch_atom, uint64_t conn, workspace_id ws, const std::vector<user_id>& users) {
      auto probe = metrics_probe(self);
      unwatch(self, conn, ws, users);
    },
    [=](watched_atom, const principal& who, presence_status status) {
      auto probe = metrics_probe(self);
      on_watched(self, who, status);
    },
    [=](rehome_atom) {
      auto probe = metrics_probe(self);
      resubscribe_all(self);
    },
    [=](joined_atom, channel_id ch, workspace_id ws, const std::vector<user_id>& users,
        uint64_t latest) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      auto frame = share(encode_joined(ch, latest));
      for (auto u : users) {
        principal who{ws, u};
        auto i = st.by_user.find(user_key(who));
        if (i == st.by_user.end())
          continue;
        for (auto conn : i->second) {
          auto& entry = st.connections[conn];
          if (std::find(entry.channels.begin(), entry.channels.end(), ch) == entry.channels.end())
            entry.channels.push_back(ch);
          route(st, conn, ch);
          entry.sink->push_control(frame);
        }
        self->send(st.presence, joined_atom::value, who, ch);
      }
    },
    [=](left_atom, channel_id ch, workspace_id ws, user_id u) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      principal who{ws, u};
      auto i = st.by_user.find(user_key(who));
      if (i == st.by_user.end())
        return;
      auto frame = share(encode_left(ch));
      for (auto conn : i->second) {
        auto& entry = st.connections[conn];
        entry.channels.erase(std::remove(entry.channels.begin(), entry.channels.end(), ch),
                             entry.channels.end());
        unroute(st, conn, ch);
        entry.sink->push_control(frame);
      }
      self->send(st.presence, left_atom::value, who, ch);
    },
  };
}

} // namespace parley
