#include "tools/bench/frame_scan.hpp"

#include <string>

namespace parley::bench {

namespace {

// Finds `"key":` and returns the position just after the colon.
std::optional<size_t> value_pos(std::string_view frame, std::string_view key) {
  std::string pattern;
  pattern.reserve(key.size() + 3);
  pattern += '"';
  pattern += key;
  pattern += "\":";
  auto pos = frame.find(pattern);
  if (pos == std::string_view::npos)
    return std::nullopt;
  return pos + pattern.size();
}

frame_kind kind_of(std::string_view t) {
  if (t == "message.new") return frame_kind::message_new;
  if (t == "message.ack") return frame_kind::message_ack;
  if (t == "hello_ack") return frame_kind::hello_ack;
  if (t == "presence.update") return frame_kind::presence_update;
  if (t == "channel.cursor") return frame_kind::channel_cursor;
  if (t == "error") return frame_kind::error;
  if (t == "pong") return frame_kind::pong;
  if (t == "message.backfill") return frame_kind::message_backfill;
  if (t == "channel.joined") return frame_kind::channel_joined;
  if (t == "channel.left") return frame_kind::channel_left;
  if (t == "presence.state") return frame_kind::presence_state;
  if (t == "presence.users") return frame_kind::presence_users;
  return frame_kind::other;
}

} // namespace

std::optional<std::string_view> string_field(std::string_view frame, std::string_view key) {
  auto pos = value_pos(frame, key);
  if (!pos || *pos >= frame.size() || frame[*pos] != '"')
    return std::nullopt;
  auto start = *pos + 1;
  auto end = frame.find('"', start);
  if (end == std::string_view::npos)
    return std::nullopt;
  return frame.substr(start, end - start);
}

std::optional<uint64_t> uint_field(std::string_view frame, std::string_view key) {
  auto pos = value_pos(frame, key);
  if (!pos || *pos >= frame.size() || frame[*pos] < '0' || frame[*pos] > '9')
    return std::nullopt;
  uint64_t v = 0;
  for (size_t i = *pos; i < frame.size() && frame[i] >= '0' && frame[i] <= '9'; ++i)
    v = v * 10 + static_cast<uint64_t>(frame[i] - '0');
  return v;
}

std::optional<scanned_frame> scan_frame(std::string_view frame) {
  constexpr std::string_view head = "{\"type\":\"";
  if (frame.substr(0, head.size()) != head)
    return std::nullopt;
  auto end = frame.find('"', head.size());
  if (end == std::string_view::npos)
    return std::nullopt;
  scanned_frame f;
  f.type = frame.substr(head.size(), end - head.size());
  f.kind = kind_of(f.type);
  switch (f.kind) {
    case frame_kind::message_new:
    case frame_kind::message_ack:
      f.channel_id = string_field(frame, "channel_id").value_or("");
      f.seq = uint_field(frame, "channel_seq").value_or(0);
      f.client_msg_id = string_field(frame, "client_msg_id").value_or("");
      break;
    case frame_kind::channel_cursor:
      f.channel_id = string_field(frame, "channel_id").value_or("");
      f.seq = uint_field(frame, "latest_seq").value_or(0);
      break;
    case frame_kind::error:
      f.code = string_field(frame, "code").value_or("");
      f.client_msg_id = string_field(frame, "ref_id").value_or("");
      f.channel_id = string_field(frame, "channel_id").value_or("");
      break;
    default:
      break;
  }
  return f;
}

} // namespace parley::bench
