#include "actors/workspace_quota.hpp"

namespace parley {

std::shared_ptr<shared_token_bucket> workspace_quota::bucket(workspace_id workspace) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& b = buckets_[workspace];
  if (!b)
    b = std::make_shared<shared_token_bucket>(rate_, burst_);
  return b;
}

} // namespace parley
