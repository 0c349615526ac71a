#include "actors/channel_presence.hpp"

#include <algorithm>

#include "actors/channel.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

namespace {

presence_status status_of(const channel_presence& p, user_id user) {
  auto i = p.online.find(user);
  return i == p.online.end() ? presence_status::offline : i->second.status();
}

void publish(channel_self self, user_id user, presence_status status) {
  fan_out_control(self, share(encode_presence_update(user, self->state.id, status)));
}

void presence_changed(channel_self self, user_id user, presence_status status) {
  auto& st = self->state;
  auto& lim = st.deps->env.limits;
  if (st.members.size() > lim.presence_push_members)
    return; // pull-only channel: presence.get answers from `online`
  if (st.members.size() <= lim.presence_coalesce_members) {
    publish(self, user, status);
    return;
  }
  // Big channels: at most one update per user per second, the latest state wins.
  st.presence.backlog[user] = status;
  if (!st.presence.flush_scheduled) {
    st.presence.flush_scheduled = true;
    self->delayed_send(self, std::chrono::seconds(1), coalesce_atom::value);
  }
}

/// Counts one user fewer on `gw`; the last one takes the gateway out of the fan-out.
void release_gateway(channel_presence& p, const gateway_actor& gw) {
  if (auto i = p.gateways.find(gw); i != p.gateways.end() && --i->second == 0)
    p.gateways.erase(i);
}

void update_gauge(channel_state& st) {
  if (auto* stats = st.slot.stats())
    stats->online.store(static_cast<uint32_t>(st.presence.online.size()),
                        std::memory_order_relaxed);
}

} // namespace

void set_member_status(channel_self self, const principal& who, const gateway_actor& gw,
                       presence_status status, uint64_t stamp) {
  auto& st = self->state;
  auto& p = st.presence;
  auto before = status_of(p, who.user);
  auto i = p.online.find(who.user);
  if (i == p.online.end()) {
    if (status == presence_status::offline)
      return;
    i = p.online.emplace(who.user, user_presence{}).first;
  }
  auto& member = i->second;
  switch (member.apply(gw, status, stamp)) {
    case user_presence::gateway_change::added:
      if (p.gateways[gw]++ == 0)
        self->monitor(gw); // a node that goes down takes its online users with it
      break;
    case user_presence::gateway_change::removed:
      release_gateway(p, gw);
      break;
    case user_presence::gateway_change::none:
      break;
  }
  if (status != presence_status::offline && member.newer_than(stamp))
    self->send(gw, away_atom::value, who, member.away, member.away_stamp);
  if (member.gateways.empty())
    p.online.erase(i); // offline everywhere: a later connection starts online
  update_gauge(st);
  auto after = status_of(p, who.user);
  if (before != after)
    presence_changed(self, who.user, after);
}

void drop_member(channel_self self, user_id user) {
  auto& st = self->state;
  auto i = st.presence.online.find(user);
  if (i == st.presence.online.end())
    return;
  for (auto& gw : i->second.gateways)
    release_gateway(st.presence, gw);
  st.presence.online.erase(i);
  update_gauge(st);
}

void drop_gateway(channel_self self, const caf::actor_addr& gateway) {
  auto& st = self->state;
  std::vector<std::pair<user_id, gateway_actor>> gone;
  for (auto& [user, m] : st.presence.online)
    for (auto& gw : m.gateways)
      if (gw.address() == gateway)
        gone.emplace_back(user, gw);
  for (auto& [user, gw] : gone)
    set_member_status(self, principal{st.workspace, user}, gw, presence_status::offline, 0);
}

std::vector<presence_entry> present_members(const channel_state& st) {
  std::vector<presence_entry> result;
  for (auto& [user, m] : st.presence.online) {
    auto s = m.status();
    if (s != presence_status::offline)
      result.push_back(presence_entry{user, s});
  }
  std::sort(result.begin(), result.end(), [](auto& a, auto& b) { return a.user < b.user; });
  return result;
}

void on_presence_flush(channel_self self) {
  auto& p = self->state.presence;
  p.flush_scheduled = false;
  auto backlog = std::move(p.backlog);
  p.backlog.clear();
  for (auto& [user, s] : backlog)
    publish(self, user, s);
}

} // namespace parley
