#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include <caf/timespan.hpp>

namespace parley {

/// Limits and thresholds of one node (docs/architecture.md "Backpressure", "Fan-out tiers").
struct node_limits {
  double user_rate_per_s = 1;         // per user per channel
  double user_burst = 5;
  double workspace_rate_per_s = 1000; // per workspace, per node
  double workspace_burst = 1000;
  caf::timespan hello_timeout = std::chrono::seconds(10);
  caf::timespan idle_timeout = std::chrono::seconds(30);
  caf::timespan request_timeout = std::chrono::seconds(5);
  caf::timespan channel_idle = std::chrono::minutes(5); // passivate a quiet channel after this
  size_t large_channel_members = 50000;    // above: read-time fan-out (channel.cursor)
  size_t presence_coalesce_members = 10000; // above: presence.update at most 1/s per user
  // Above: no presence.update push at all (members pull with presence.get). Pushing every
  // transition to every online member costs O(N^2) frames while N members connect.
  size_t presence_push_members = 1000;
  // presence.subscribe: users one connection may watch (docs/protocol.md "Presence
  // subscriptions").
  size_t presence_subscribe_max = 500;
  size_t overload_backlog = 5000;          // messages waiting for fan-out (gateway + lanes)
  // ... or fan-out waiting at all and the latest batch waited longer than this for its lane.
  caf::timespan overload_delay = std::chrono::milliseconds(500);
  // ... or more sockets than this have full kernel send buffers (0: not a signal). A handful of
  // slow readers is each connection's own business (slow consumers: drop-oldest); hundreds at
  // once are the network or the clients not keeping up with this node, and each full socket
  // pins up to tcp_wmem's maximum (4 MiB by default) of kernel memory: 256 of them ~1 GiB.
  size_t overload_backed_up_sockets = 256;
  size_t overload_cursor_members = 100;    // under overload, channels above this go to cursor mode
  caf::timespan cursor_interval = std::chrono::milliseconds(250);
  // Inter-node deliveries (docs/architecture.md "Backpressure", layer 3). Busy is not dead: a
  // peer whose confirmations take longer than the deadline is slow (large channels send it
  // cursors instead of messages); a peer that confirms nothing at all for `peer_dead_after`
  // while a confirmation is out fails, and `circuit_failures` such failures open its circuit,
  // which lets one probe through every probe interval. A zero deadline turns confirmation and
  // the circuit off (plain sends).
  caf::timespan internode_deadline = std::chrono::milliseconds(50);
  caf::timespan peer_dead_after = std::chrono::seconds(2);
  uint32_t circuit_failures = 1;
  caf::timespan circuit_probe_interval = std::chrono::seconds(10);
  size_t recent_ring = 512;        // messages a channel keeps for backfill without the database
  size_t dedup_cache = 256;        // recent acks a channel answers retries from
  size_t commit_max_batch = 1000;
};

} // namespace parley
