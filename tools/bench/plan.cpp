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
  if (o.mode == "presence") {
    // The watchers' expectations span every member: one process sees all of them.
    p.error = "presence runs in one process: " + std::to_string(p.clients)
              + " members exceed " + std::to_string(p.per_process)
              + " connections per process (--per-worker, RLIMIT_NOFILE "
              + std::to_string(fd_limit) + ")";
    return p;
  }
  if (o.mode == "throughput") {
    // Workers own whole channels, so each checks its own deliveries.
    size_t per = o.members > 0 ? p.per_process / o.members : 0;
    if (per == 0) {
      p.error = "throughput workers hold whole channels: " + std::to_string(o.members)
                + " members exceed " + std::to_string(p.per_process)
                + " connections per process (--per-worker, RLIMIT_NOFILE "
                + std::to_string(fd_limit) + ")";
      return p;
    }
    p.workers = (o.channels + per - 1) / per;
    return p;
  }
  size_t rest = p.clients - p.publishers;
  p.workers = (rest + p.per_process - 1) / p.per_process;
  return p;
}

} // namespace parley::bench
