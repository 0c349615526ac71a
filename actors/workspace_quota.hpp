#pragma once

#include <memory>
#include <mutex>
#include <unordered_map>

#include "protocol/ids.hpp"
#include "protocol/shared_token_bucket.hpp"

namespace parley {

/// The per-workspace message quotas of a node. A channel actor asks for its workspace's
/// bucket once, at activation (a short mutex); taking from the bucket on the send path is
/// lock-free (protocol/shared_token_bucket.hpp).
class workspace_quota {
public:
  workspace_quota(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}

  /// The bucket of `workspace`, made on first use and shared by its channels.
  std::shared_ptr<shared_token_bucket> bucket(workspace_id workspace);

private:
  double rate_;
  double burst_;
  std::mutex mtx_;
  std::unordered_map<workspace_id, std::shared_ptr<shared_token_bucket>> buckets_;
};

} // namespace parley
