#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "protocol/ids.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

/// The bounded outbound queue of one connection (docs/protocol.md "Slow consumers").
/// Only `message.new` frames are droppable: at most `max_droppable` are queued, the oldest is
/// dropped beyond that. Once the queue drains after a drop, one `channel.cursor` per channel
/// that lost frames is queued, carrying the highest seq seen for it. Other frames are never
/// dropped; if they alone exceed `max_control_bytes`, push reports `overflow` (close 1013).
/// Not thread-safe: owned by the session's strand (or a test).
class outbound_queue {
public:
  struct limits {
    size_t max_droppable = 100;
    size_t max_control_bytes = 4u << 20;
  };

  enum class push_result { queued, dropped_oldest, overflow };

  outbound_queue() = default;
  explicit outbound_queue(limits lim) : limits_(lim) {}

  /// Queues a droppable `message.new` of `channel` with `seq`.
  push_result push_message(frame_ptr frame, channel_id channel, uint64_t seq);

  /// Queues a frame that is never dropped.
  push_result push_control(frame_ptr frame);

  /// Takes every queued frame in order, to be written together, appending them to `out`
  /// (whose capacity the caller keeps: no allocation per write). When this empties the queue
  /// after drops, the cursor frames come at the end of this batch.
  void take_all(std::vector<frame_ptr>& out);
  std::vector<frame_ptr> take_all();

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  /// Total message.new frames dropped so far.
  uint64_t dropped() const { return dropped_; }

private:
  struct item {
    frame_ptr frame;
    bool droppable;
    channel_id channel; // of a droppable frame, to know which channel a drop hits
    uint64_t seq;       // of a droppable frame
  };

  /// The highest seq of `channel` queued now, `incoming` included if it is of that channel.
  uint64_t newest_seq(channel_id channel, channel_id incoming_channel, uint64_t incoming) const;

  limits limits_;
  std::vector<item> items_; // a vector: an empty deque still allocates ~600 bytes
  size_t droppable_count_ = 0;
  size_t control_bytes_ = 0;
  uint64_t dropped_ = 0;
  // Channel -> highest seq seen since, for channels that lost frames (empty unless a client
  // falls behind, and an empty map allocates nothing).
  std::map<channel_id, uint64_t> lost_;
};

} // namespace parley
