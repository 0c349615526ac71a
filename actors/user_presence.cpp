#include "actors/user_presence.hpp"

#include <algorithm>

namespace parley {

presence_status user_presence::status() const {
  if (gateways.empty())
    return presence_status::offline;
  return away ? presence_status::away : presence_status::online;
}

user_presence::gateway_change user_presence::apply(const gateway_actor& gw, presence_status s,
                                                   uint64_t stamp) {
  auto i = std::find(gateways.begin(), gateways.end(), gw);
  if (s == presence_status::offline) {
    if (i == gateways.end())
      return gateway_change::none;
    gateways.erase(i);
    return gateway_change::removed;
  }
  if (stamp > away_stamp) {
    away = s == presence_status::away;
    away_stamp = stamp;
  }
  if (i != gateways.end())
    return gateway_change::none;
  gateways.push_back(gw);
  return gateway_change::added;
}

} // namespace parley
