#include "actors/node_context.hpp"

#include <caf/send.hpp>

namespace parley {

bool workspace_quota::try_take(workspace_id workspace, int64_t now) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = buckets_.find(workspace);
  if (i == buckets_.end())
    i = buckets_.emplace(workspace, token_bucket{rate_, burst_}).first;
  if (!i->second.available(now))
    return false;
  i->second.take();
  return true;
}

void channel_directory::set_factory(factory f) {
  std::lock_guard<std::mutex> guard{mtx_};
  factory_ = std::move(f);
}

caf::actor channel_directory::get(channel_id channel) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = actors_.find(channel);
  if (i != actors_.end())
    return i->second;
  auto hdl = factory_(channel);
  actors_.emplace(channel, hdl);
  return hdl;
}

void channel_directory::forget(channel_id channel, const caf::actor& which) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = actors_.find(channel);
  if (i != actors_.end() && i->second == which)
    actors_.erase(i);
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

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace parley
