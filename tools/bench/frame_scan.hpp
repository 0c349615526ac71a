#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace parley::bench {

/// Server frame types the bench tells apart (docs/protocol.md "Server -> client").
enum class frame_kind {
  hello_ack, message_new, message_ack, message_backfill, channel_cursor, channel_joined,
  channel_left, presence_update, presence_state, presence_users, error, pong, other
};

/// How many frame kinds there are (`other` is the last).
inline constexpr size_t frame_kinds = static_cast<size_t>(frame_kind::other) + 1;

/// The fields the bench reads from a frame; views point into the frame text.
struct scanned_frame {
  frame_kind kind = frame_kind::other;
  std::string_view type;
  std::string_view channel_id;     // message.new / ack / cursor / error (when present)
  uint64_t seq = 0;                // channel_seq, or latest_seq of a cursor
  std::string_view client_msg_id;  // message.new / ack; ref_id of an error
  std::string_view code;           // error
  int64_t send_ns = 0;             // message_new: send time embedded in the payload, 0 if none
};

/// Reads a server frame without building a JSON tree: the hot path sees one message.new per
/// delivery. Keys are matched with their quotes, so an escaped key inside a text value never
/// matches. Returns nullopt when the frame does not start with {"type":"...".
std::optional<scanned_frame> scan_frame(std::string_view frame);

/// The string value of "key":"..." in `frame` (no unescaping: ids are plain ASCII).
std::optional<std::string_view> string_field(std::string_view frame, std::string_view key);

/// The unsigned integer value of "key":N in `frame`.
std::optional<uint64_t> uint_field(std::string_view frame, std::string_view key);

} // namespace parley::bench
