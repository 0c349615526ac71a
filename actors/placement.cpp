#include "actors/placement.hpp"

#include <algorithm>

#include "protocol/rendezvous.hpp"

namespace parley {

std::string placement::owner(channel_id channel) {
  return rendezvous_owner(channel, live());
}

std::string placement::home_of(const std::string& user_key) {
  return rendezvous_owner(std::string_view(user_key), live());
}

presence_actor placement::presence_of(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& p : peers_)
    if (p.name == name)
      return p.presence;
  return {};
}

cluster_actor placement::node_of(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& p : peers_)
    if (p.name == name)
      return p.node;
  return {};
}

std::vector<gateway_actor> placement::peer_gateways() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<gateway_actor> result;
  for (auto& p : peers_)
    result.push_back(p.gateway);
  return result;
}

std::string placement::name_of(const gateway_actor& gateway) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& p : peers_)
    if (p.gateway == gateway)
      return p.name;
  return {};
}

std::vector<std::string> placement::live() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<std::string> names{self_};
  for (auto& p : peers_)
    names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return names;
}

void placement::set_peer(peer p) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& x : peers_)
    if (x.name == p.name) {
      x = std::move(p);
      return;
    }
  peers_.push_back(std::move(p));
}

void placement::remove_peer(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  peers_.erase(std::remove_if(peers_.begin(), peers_.end(),
                              [&](const peer& p) { return p.name == name; }),
               peers_.end());
}

} // namespace parley
