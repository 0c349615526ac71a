#pragma once

#include "tools/bench/admin_api.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/workers.hpp"

namespace parley::bench {

/// K senders into C channels of S members for T seconds (DESIGN.md tiers: all push).
/// `admin` is null for peer targets (rooms need no setup); throughput runs in one process.
ojson run_throughput(const options& o, admin_api* admin);

/// One channel of N members; M messages, each after the previous one reached everyone.
/// With `pool`, the members beyond the publisher live in forked workers.
ojson run_fanout(const options& o, admin_api* admin, worker_pool* pool);

/// N idle connections held for a while: node RSS per connection.
ojson run_idle(const options& o, admin_api* admin, worker_pool* pool);

} // namespace parley::bench
