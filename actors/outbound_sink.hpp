#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>

#include "protocol/ids.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

class outbound_sink;
using sink_ptr = std::shared_ptr<outbound_sink>;

/// The thread a group of sinks writes on (one Asio thread of the node). Fan-out hands a lane
/// every local copy of one message at once: one cross-thread hop per lane instead of one per
/// connection.
class fanout_lane {
public:
  virtual ~fanout_lane() = default;

  /// Pushes the frame to each of `sinks` (all of this lane) as their push_message would.
  virtual void push_message(std::vector<sink_ptr> sinks, frame_ptr frame, channel_id channel,
                            uint64_t seq, int64_t acked_ns) = 0;
};

/// The write side of one client connection, as seen by actors. Implementations are
/// thread-safe and never block: the WebSocket session posts to its strand, tests record.
class outbound_sink {
public:
  virtual ~outbound_sink() = default;

  /// Queues a droppable `message.new` (slow consumers lose the oldest first).
  virtual void push_message(frame_ptr frame, channel_id channel, uint64_t seq) = 0;

  /// As above, with the steady_ns() of the message's ack (0: unknown) for the delivery
  /// latency histogram; sinks that do not measure it ignore it.
  virtual void push_message(frame_ptr frame, channel_id channel, uint64_t seq, int64_t acked_ns) {
    push_message(std::move(frame), channel, seq);
  }

  /// Queues a frame that is never dropped (acks, errors, pongs, presence, backfill).
  virtual void push_control(frame_ptr frame) = 0;

  /// From now until `release`, frames are held back (called when hello starts).
  virtual void hold() = 0;

  /// Until release, frames are held back: `first` is written before everything held, so
  /// hello_ack and the hello backfill pages come before any live frame.
  virtual void release(std::vector<frame_ptr> first) = 0;

  /// Writes what is queued, then closes with `code` (RFC 6455 section 7.4).
  virtual void close(uint16_t code, std::string reason) = 0;

  /// The lane this sink writes on; null: fan-out pushes to it alone.
  virtual fanout_lane* lane() const { return nullptr; }
};

} // namespace parley

// Sinks are node-local handles and never cross a node boundary.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(parley::sink_ptr)
