#include "tools/bench/plan.hpp"

#include <algorithm>

namespace parley::bench {

process_plan plan_processes(const options& o, uint64_t fd_limit) {
  process_plan p;
  p.clients = client_count(o);
  // Headroom for the admin connection, pipes, stdio and the runtime's own descriptors.
  constexpr uint64_t reserve = 128;
  p.per_process = std::min<size_t>(o.per_worker, fd_limit > reserve ? fd_limit - reserve : 1);
  // Peer processes share no rooms: fanout publishes through one connection per process.
  p.publishers = o.mode != "fanout" ? 0 : o.target == "parley" ? 1 : o.nodes.size();
  if (p.clients <= p.per_process)
    return p;
  if (o.mode == "throughput") {
    p.error = "throughput runs in one process: " + std::to_string(p.clients)
              + " connections exceed " + std::to_string(p.per_process)
              + " (--per-worker, RLIMIT_NOFILE " + std::to_string(fd_limit)
              + "); use fewer channels or members";
    return p;
  }
  size_t rest = p.clients - p.publishers;
  p.workers = (rest + p.per_process - 1) / p.per_process;
  return p;
}

} // namespace parley::bench
