#include "actors/channel_presence.hpp"

#include <algorithm>

#include "actors/channel.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

namespace {

presence_status combined_status(const channel_presence& p, user_id user) {
  auto i = p.online.find(user);
  if (i == p.online.end() || i->second.empty())
    return presence_status::offline;
  for (auto& [gw, s] : i->second)
    if (s == presence_status::online)
      return presence_status::online;
  return presence_status::away;
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

void set_member_status(channel_self self, user_id user, const gateway_actor& gw,
                       presence_status status) {
  auto& st = self->state;
  auto& p = st.presence;
  auto before = combined_status(p, user);
  auto& per_gw = p.online[user];
  auto i = per_gw.find(gw);
  if (status == presence_status::offline) {
    if (i != per_gw.end()) {
      per_gw.erase(i);
      release_gateway(p, gw);
    }
    if (per_gw.empty())
      p.online.erase(user);
  } else if (i == per_gw.end()) {
    per_gw.emplace(gw, status);
    if (p.gateways[gw]++ == 0)
      self->monitor(gw); // a node that goes down takes its online users with it
  } else {
    i->second = status;
  }
  update_gauge(st);
  auto after = combined_status(p, user);
  if (before != after)
    presence_changed(self, user, after);
}

void drop_member(channel_self self, user_id user) {
  auto& st = self->state;
  auto i = st.presence.online.find(user);
  if (i == st.presence.online.end())
    return;
  for (auto& [gw, s] : i->second)
    release_gateway(st.presence, gw);
  st.presence.online.erase(i);
  update_gauge(st);
}

void drop_gateway(channel_self self, const caf::actor_addr& gateway) {
  std::vector<std::pair<user_id, gateway_actor>> gone;
  for (auto& [user, per_gw] : self->state.presence.online)
    for (auto& [gw, s] : per_gw)
      if (gw.address() == gateway)
        gone.emplace_back(user, gw);
  for (auto& [user, gw] : gone)
    set_member_status(self, user, gw, presence_status::offline);
}

std::vector<presence_entry> present_members(const channel_state& st) {
  std::vector<presence_entry> result;
  for (auto& [user, per_gw] : st.presence.online) {
    auto s = combined_status(st.presence, user);
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
