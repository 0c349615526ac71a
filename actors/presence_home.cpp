#include "actors/presence_home.hpp"

#include <algorithm>
#include <chrono>

#include "actors/gateway.hpp"

namespace parley {

namespace {

constexpr auto coalesce_window = std::chrono::seconds(1);

using home_entry = presence_state::home_entry;

/// Pushes the user's status to its subscribers if it changed since they last heard, at most
/// once per second (a later change within the second waits for the flush; the latest wins).
void push_if_changed(presence_self self, home_entry& e) {
  auto status = e.combined.status();
  if (status == e.pushed || e.flush_scheduled)
    return;
  auto now = self->clock().now();
  if (!e.subscribers.empty() && e.last_push && now - *e.last_push < coalesce_window) {
    e.flush_scheduled = true;
    self->delayed_send(self, *e.last_push + coalesce_window - now, coalesce_atom::value, e.who);
    return;
  }
  e.pushed = status;
  if (e.subscribers.empty())
    return; // nobody to tell: a subscriber gets the status in its answer
  e.last_push = now;
  for (auto& gw : e.subscribers)
    self->send(gw, watched_atom::value, e.who, status);
}

/// The entry of a user homed here, created if new (offline, never pushed).
home_entry& entry_of(presence_state& st, const principal& who) {
  auto key = user_key(who);
  auto i = st.homed.find(key);
  if (i == st.homed.end()) {
    i = st.homed.emplace(key, home_entry{}).first;
    i->second.who = who;
  }
  return i->second;
}

/// Drops an entry nobody needs: not connected anywhere, no subscriber, no flush pending.
void forget_if_unused(presence_state& st, const std::string& key) {
  auto i = st.homed.find(key);
  if (i != st.homed.end() && i->second.combined.gateways.empty() &&
      i->second.subscribers.empty() && !i->second.flush_scheduled)
    st.homed.erase(i);
}

} // namespace

void home_report(presence_self self, const principal& who, const gateway_actor& gw,
                 presence_status status, uint64_t stamp) {
  auto& st = self->state;
  auto key = user_key(who);
  if (status == presence_status::offline && st.homed.count(key) == 0)
    return;
  auto& e = entry_of(st, who);
  e.combined.apply(gw, status, stamp);
  if (status != presence_status::offline && e.combined.newer_than(stamp))
    self->send(gw, away_atom::value, who, e.combined.away, e.combined.away_stamp);
  push_if_changed(self, e);
  forget_if_unused(st, key);
}

std::vector<presence_entry> home_subscribe(presence_self self, workspace_id ws,
                                           const std::vector<user_id>& users,
                                           const gateway_actor& subscriber) {
  auto& st = self->state;
  std::vector<presence_entry> now;
  for (auto u : users) {
    auto& e = entry_of(st, principal{ws, u});
    if (std::find(e.subscribers.begin(), e.subscribers.end(), subscriber) == e.subscribers.end())
      e.subscribers.push_back(subscriber);
    now.push_back(presence_entry{u, e.combined.status()});
  }
  return now;
}

void home_unsubscribe(presence_self self, workspace_id ws, const std::vector<user_id>& users,
                      const gateway_actor& subscriber) {
  auto& st = self->state;
  for (auto u : users) {
    auto key = user_key(principal{ws, u});
    auto i = st.homed.find(key);
    if (i == st.homed.end())
      continue;
    auto& subs = i->second.subscribers;
    subs.erase(std::remove(subs.begin(), subs.end(), subscriber), subs.end());
    forget_if_unused(st, key);
  }
}

void home_flush(presence_self self, const principal& who) {
  auto& st = self->state;
  auto key = user_key(who);
  auto i = st.homed.find(key);
  if (i == st.homed.end())
    return;
  i->second.flush_scheduled = false;
  push_if_changed(self, i->second);
  forget_if_unused(st, key);
}

void home_sweep(presence_self self) {
  auto& st = self->state;
  auto live = st.deps.nodes->peer_gateways();
  live.push_back(st.gateway);
  auto gone = [&](const gateway_actor& gw) {
    return std::find(live.begin(), live.end(), gw) == live.end();
  };
  std::vector<std::string> keys;
  for (auto& [key, e] : st.homed)
    keys.push_back(key);
  for (auto& key : keys) {
    auto& e = st.homed.at(key);
    if (st.deps.nodes->home_of(key) != st.deps.nodes->self()) {
      st.homed.erase(key); // homed elsewhere now: its nodes and subscribers go there
      continue;
    }
    auto gateways = e.combined.gateways;
    for (auto& gw : gateways)
      if (gone(gw))
        e.combined.apply(gw, presence_status::offline, 0);
    auto& subs = e.subscribers;
    subs.erase(std::remove_if(subs.begin(), subs.end(), gone), subs.end());
    push_if_changed(self, e);
    forget_if_unused(st, key);
  }
}

} // namespace parley
