#pragma once

#include <cstdint>
#include <vector>

#include "tools/bench/common.hpp"
#include "tools/bench/workers.hpp"

namespace parley::bench {

/// The clients of one run: the parent's own fleet plus the slices held by forked workers
/// (none when the run fits in one process).
class cohort {
public:
  cohort(fleet& local, worker_pool* pool, size_t total)
    : local_(local), pool_(pool), total_(total) {}

  /// Connects the local clients and waits for every worker's connect report with one
  /// progress line for all; then waits for setup traffic to calm everywhere. Prints the
  /// merged connect figures and returns them.
  ojson connect(const options& o);

  /// Ready clients over all processes (workers report closes as they happen).
  size_t ready() const { return local_.ready_count() + (pool_ ? pool_->ready() : 0); }
  size_t workers() const { return pool_ ? pool_->size() : 0; }
  worker_pool* pool() { return pool_; }

  /// Tells the workers to stop and gathers their final reports (bounded wait).
  std::vector<nlohmann::json> finish(std::chrono::milliseconds max);

  /// Frames by kind and close reasons summed over all processes (after finish()).
  ojson frames(const std::vector<nlohmann::json>& finals) const;
  ojson close_reasons(const std::vector<nlohmann::json>& finals) const;
  uint64_t closed_after_ready(const std::vector<nlohmann::json>& finals) const;
  /// CPU seconds the workers spent after their settle report.
  double workers_cpu_s(const std::vector<nlohmann::json>& finals) const;

private:
  fleet& local_;
  worker_pool* pool_;
  size_t total_;
};

/// Body of a forked worker for fanout and idle: connects its slice of the members, reports
/// progress, then reports each fanned-out message once all its clients got it (or on flush).
int run_member_worker(const options& o, size_t index, slice s, worker_pipes p);

} // namespace parley::bench
