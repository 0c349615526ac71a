#pragma once

#include "tools/bench/admin_api.hpp"
#include "tools/bench/common.hpp"

namespace parley::bench {

/// K senders into C channels of S members for T seconds (DESIGN.md tiers: all push).
ojson run_throughput(const options& o, admin_api& admin);

/// One channel of N members; M messages, each after the previous one reached everyone.
ojson run_fanout(const options& o, admin_api& admin);

/// N idle connections held for a while: node RSS per connection.
ojson run_idle(const options& o, admin_api& admin);

} // namespace parley::bench
