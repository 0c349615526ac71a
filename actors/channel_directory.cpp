#include "actors/channel_directory.hpp"

#include <caf/send.hpp>

namespace parley {

void channel_directory::set_factory(factory f, std::shared_ptr<placement> where) {
  std::lock_guard<std::mutex> guard{mtx_};
  factory_ = std::move(f);
  placement_ = std::move(where);
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
