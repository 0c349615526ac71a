#include "actors/node_context.hpp"

#include <algorithm>

#include <caf/send.hpp>

#include "protocol/rendezvous.hpp"

namespace parley {

std::shared_ptr<shared_token_bucket> workspace_quota::bucket(workspace_id workspace) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& b = buckets_[workspace];
  if (!b)
    b = std::make_shared<shared_token_bucket>(rate_, burst_);
  return b;
}

std::string placement::owner(channel_id channel) {
  return rendezvous_owner(channel, live());
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

void channel_directory::set_factory(factory f, placement* where) {
  std::lock_guard<std::mutex> guard{mtx_};
  factory_ = std::move(f);
  placement_ = where;
}

channel_actor channel_directory::get(channel_id channel) {
  auto owner = placement_ ? placement_->owner(channel) : std::string{};
  factory make;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = actors_.find(channel);
    if (i != actors_.end()) {
      if (i->second.owner == owner)
        return i->second.hdl;
      caf::anon_send_exit(i->second.hdl, caf::exit_reason::user_shutdown);
      actors_.erase(i);
    }
    make = factory_;
  }
  if (!make)
    return {}; // shut down
  // Spawned outside the lock; a concurrent get that registered first wins.
  auto hdl = make(channel, owner);
  std::lock_guard<std::mutex> guard{mtx_};
  auto [i, added] = actors_.emplace(channel, entry{hdl, owner});
  if (!added)
    caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  return i->second.hdl;
}

void channel_directory::forget(channel_id channel, const channel_actor& which) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = actors_.find(channel);
  if (i != actors_.end() && i->second.hdl == which)
    actors_.erase(i);
}

void channel_directory::reassign(bool reload_owned) {
  if (!placement_)
    return;
  auto self = placement_->self();
  std::vector<std::pair<channel_id, std::string>> current;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [ch, e] : actors_)
      current.emplace_back(ch, e.owner);
  }
  for (auto& [ch, old_owner] : current) {
    if (placement_->owner(ch) == old_owner && !(reload_owned && old_owner == self))
      continue;
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = actors_.find(ch);
    if (i != actors_.end() && i->second.owner == old_owner) {
      caf::anon_send_exit(i->second.hdl, caf::exit_reason::user_shutdown);
      actors_.erase(i);
    }
  }
}

size_t channel_directory::size() {
  std::lock_guard<std::mutex> guard{mtx_};
  return actors_.size();
}

void channel_directory::clear() {
  std::lock_guard<std::mutex> guard{mtx_};
  actors_.clear();
  factory_ = nullptr;
}

} // namespace parley
