#include "actors/gateway_watch.hpp"

#include <algorithm>
#include <map>
#include <memory>

#include "actors/errors.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

namespace {

using by_home = std::map<std::string, std::vector<user_id>>;

/// Asks the users' home presence (this node's or a peer's) to subscribe this gateway; `ok`
/// gets their statuses, `fail` an error.
template <class Ok, class Fail>
void subscribe_at(gateway_self self, const std::string& home, workspace_id ws,
                  const std::vector<user_id>& users, Ok ok, Fail fail) {
  auto& st = self->state;
  auto me = caf::actor_cast<gateway_actor>(self);
  auto timeout = st.env.limits.request_timeout;
  auto presence = home == st.nodes->self() ? st.presence : st.nodes->presence_of(home);
  if (presence) {
    self->request(presence, timeout, subscribe_atom::value, ws, users, me).then(ok, fail);
  } else {
    auto err = make_error(error_code::unavailable);
    fail(err);
  }
}

void push_update(gateway_state& st, const gateway_state::watched_user& w) {
  auto frame = share(encode_presence_update(w.who.user, w.status));
  for (auto conn : w.conns)
    if (auto c = st.connections.find(conn); c != st.connections.end())
      c->second.sink->push_control(frame);
}

/// Takes a home's answer: confirmed subscriptions and their statuses. A status that changed
/// since an earlier confirmed answer (a new home after a cluster change) goes to the watchers;
/// a first answer is no transition: each watcher gets it in its own presence.users.
void take_statuses(gateway_state& st, workspace_id ws, const std::vector<presence_entry>& now) {
  for (auto& e : now) {
    auto w = st.watched.find(user_key(principal{ws, e.user}));
    if (w == st.watched.end())
      continue;
    bool known = w->second.subscribed;
    w->second.subscribed = true;
    if (w->second.status != e.status) {
      w->second.status = e.status;
      if (known)
        push_update(st, w->second);
    }
  }
}

} // namespace

caf::result<std::vector<presence_entry>> watch(gateway_self self, uint64_t conn,
                                               workspace_id ws,
                                               const std::vector<user_id>& users) {
  auto& st = self->state;
  auto c = st.connections.find(conn);
  if (c == st.connections.end())
    return make_error(error_code::unavailable); // closed meanwhile
  auto answer = std::make_shared<std::vector<presence_entry>>();
  by_home to_subscribe;
  for (auto u : users) {
    principal who{ws, u};
    auto key = user_key(who);
    auto& w = st.watched.try_emplace(key).first->second; // offline until its home answers
    w.who = who;
    if (std::find(w.conns.begin(), w.conns.end(), conn) == w.conns.end()) {
      w.conns.push_back(conn);
      c->second.watching.push_back(u);
    }
    if (w.subscribed)
      answer->push_back(presence_entry{u, w.status});
    else // new here, or its home did not answer before: (again) at its home
      to_subscribe[st.nodes->home_of(key)].push_back(u);
  }
  auto sorted = [answer] {
    std::sort(answer->begin(), answer->end(), [](auto& a, auto& b) { return a.user < b.user; });
    return *answer;
  };
  if (to_subscribe.empty())
    return sorted();
  auto rp = self->make_response_promise<std::vector<presence_entry>>();
  auto outstanding = std::make_shared<size_t>(to_subscribe.size());
  auto failed = std::make_shared<bool>(false);
  for (auto& [home, list] : to_subscribe) {
    auto done = [=]() mutable {
      if (--*outstanding > 0)
        return;
      if (*failed)
        rp.deliver(make_error(error_code::unavailable)); // a retry subscribes again
      else
        rp.deliver(sorted());
    };
    subscribe_at(
      self, home, ws, list,
      [=](const std::vector<presence_entry>& now) mutable {
        take_statuses(self->state, ws, now);
        answer->insert(answer->end(), now.begin(), now.end());
        done();
      },
      [=](caf::error&) mutable {
        *failed = true;
        done();
      });
  }
  return rp;
}

void unwatch(gateway_self self, uint64_t conn, workspace_id ws,
             const std::vector<user_id>& users) {
  auto& st = self->state;
  auto c = st.connections.find(conn);
  by_home to_unsubscribe;
  for (auto u : users) {
    if (c != st.connections.end()) {
      auto& watching = c->second.watching;
      watching.erase(std::remove(watching.begin(), watching.end(), u), watching.end());
    }
    auto key = user_key(principal{ws, u});
    auto w = st.watched.find(key);
    if (w == st.watched.end())
      continue;
    auto& conns = w->second.conns;
    conns.erase(std::remove(conns.begin(), conns.end(), conn), conns.end());
    if (!conns.empty())
      continue;
    if (w->second.subscribed)
      to_unsubscribe[st.nodes->home_of(key)].push_back(u);
    st.watched.erase(w);
  }
  auto me = caf::actor_cast<gateway_actor>(self);
  for (auto& [home, list] : to_unsubscribe)
    if (auto presence = home == st.nodes->self() ? st.presence : st.nodes->presence_of(home))
      self->send(presence, unsub_atom::value, ws, list, me);
}

void on_watched(gateway_self self, const principal& who, presence_status status) {
  auto& st = self->state;
  auto w = st.watched.find(user_key(who));
  if (w == st.watched.end() || w->second.status == status)
    return;
  w->second.status = status;
  push_update(st, w->second);
}

void resubscribe_all(gateway_self self) {
  auto& st = self->state;
  std::map<std::pair<workspace_id, std::string>, std::vector<user_id>> groups;
  for (auto& [key, w] : st.watched)
    groups[{w.who.workspace, st.nodes->home_of(key)}].push_back(w.who.user);
  for (auto& [where, list] : groups) {
    auto ws = where.first;
    subscribe_at(
      self, where.second, ws, list,
      [=](const std::vector<presence_entry>& now) { take_statuses(self->state, ws, now); },
      [=](caf::error&) {
        // Not confirmed: the next presence.subscribe of one of these users asks again.
        for (auto u : list)
          if (auto w = self->state.watched.find(user_key(principal{ws, u}));
              w != self->state.watched.end())
            w->second.subscribed = false;
      });
  }
}

} // namespace parley
