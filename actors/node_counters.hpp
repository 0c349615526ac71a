#pragma once

#include <atomic>
#include <cstdint>

namespace parley {

/// Counters shared by the actors of a node (read by /metrics and tests).
struct node_counters {
  std::atomic<uint64_t> messages_acked{0};
  std::atomic<uint64_t> deliveries_received{0}; // message deliveries received by the gateway
  std::atomic<uint64_t> deliveries_sent_remote{0}; // channel -> gateway of another node
  std::atomic<uint64_t> internode_batches_sent{0}; // outbox -> gateway of another node
  std::atomic<uint64_t> frames_pushed{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> gateway_backlog{0}; // the gateway's mailbox depth at its last delivery
  // Fan-out batches handed to the Asio lanes and not yet pushed to their sockets (with io
  // lanes the gateway rarely queues: a saturated node shows here).
  std::atomic<int64_t> lane_backlog{0};
  std::atomic<int64_t> lane_delay_ns{0}; // how long the latest of those batches waited for its lane
  // WebSocket sessions whose kernel send buffer is full: the socket refused part of a write
  // and the rest waits for it to drain (runtime/ws_session.cpp keeps this exact; never < 0).
  std::atomic<int64_t> sockets_backed_up{0};
  // WebSocket connections reset because a write took longer than write-timeout-ms: the client
  // stopped reading (runtime/ws_session.cpp).
  std::atomic<uint64_t> write_stalls{0};
  std::atomic<uint64_t> cursor_fanouts{0}; // acked messages announced by channel.cursor, not pushed
  std::atomic<uint64_t> redis_errors{0};   // failed Redis connects and batches (mirror)
  std::atomic<uint64_t> kafka_errors{0};   // failed deliveries, log reads, broker errors
  std::atomic<uint64_t> kafka_exported{0}; // messages acknowledged by Kafka
};

} // namespace parley
