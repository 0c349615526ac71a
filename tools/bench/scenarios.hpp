#pragma once

#include "tools/bench/admin_api.hpp"
#include "tools/bench/common.hpp"
#include "tools/bench/workers.hpp"

namespace parley::bench {

/// K senders into C channels of S members for T seconds (docs/architecture.md "Fan-out tiers": all
/// push). `admin` is null for peer targets (rooms need no setup). With `pool`, forked workers hold
/// whole channels each and the parent synchronises the window and merges their results.
ojson run_throughput(const options& o, admin_api* admin, worker_pool* pool);

/// Body of a forked throughput worker: `s` is its range of channels.
int run_throughput_worker(const options& o, size_t index, slice s, worker_pipes p);

/// One channel of N members; M messages, each after the previous one reached everyone.
/// With `pool`, the members beyond the publisher live in forked workers.
ojson run_fanout(const options& o, admin_api* admin, worker_pool* pool);

/// N idle connections held for a while: node RSS per connection.
ojson run_idle(const options& o, admin_api* admin, worker_pool* pool);

/// One channel of N members, a fraction of them subscribed to others' presence
/// (docs/protocol.md "Presence subscriptions"); the rest connect and close: presence.update
/// frames received against expected, node CPU per transition. One process, Parley only.
ojson run_presence(const options& o, admin_api& admin);

} // namespace parley::bench
