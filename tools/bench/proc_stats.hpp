#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace parley::bench {

/// CPU time and resident memory of the node processes, summed over the given pids.
struct node_sample {
  bool ok = false;       // every pid could be read
  double cpu_s = 0;      // utime + stime, seconds
  uint64_t rss_kb = 0;   // VmRSS
};

/// Reads /proc/PID/stat and /proc/PID/status for each pid; empty pids → ok = false.
node_sample sample_nodes(const std::vector<int>& pids);

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
uint64_t raise_fd_limit();

} // namespace parley::bench
