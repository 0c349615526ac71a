#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "tools/bench/options.hpp"

namespace parley::bench {

/// How a run is laid out over processes (one process may hold only RLIMIT_NOFILE sockets).
struct process_plan {
  size_t clients = 0;     // connections of the whole run
  size_t publishers = 0;  // fanout: connections the parent keeps when workers hold the rest
  size_t per_process = 0; // cap per process: --per-worker, bounded by the fd limit
  size_t workers = 0;     // forked worker processes (0 = everything in this process);
                          // throughput: each holds whole channels
  std::string error;      // set when the mode cannot be split
};

/// Plans the processes of a run for a file descriptor limit `fd_limit`.
process_plan plan_processes(const options& o, uint64_t fd_limit);

} // namespace parley::bench
