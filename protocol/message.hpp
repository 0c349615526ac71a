#pragma once

#include <cstdint>
#include <string>

#include "protocol/ids.hpp"

namespace parley {

/// One message of a channel's ordered log, as stored and as sent to clients.
struct chat_message {
  workspace_id workspace;
  channel_id channel;
  uint64_t seq = 0;        // channel_seq: assigned only by the channel actor
  user_id user;
  std::string client_msg_id;
  std::string text;
  int64_t ts = 0;          // microseconds since the Unix epoch, non-decreasing with seq
};

/// What a sender learns once its message is durable (also the answer to a retry).
struct send_ack {
  std::string client_msg_id;
  channel_id channel;
  uint64_t seq = 0;
  int64_t ts = 0;
};

} // namespace parley
