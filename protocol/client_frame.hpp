#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "protocol/error_code.hpp"
#include "protocol/ids.hpp"
#include "protocol/presence_status.hpp"

namespace parley {

/// Frame-size limits of docs/protocol.md "Rules".
constexpr size_t max_text_bytes = 4000;
constexpr size_t max_client_msg_id = 64;
constexpr uint32_t max_backfill_limit = 100;
constexpr size_t max_presence_ids_per_frame = 100;

/// `hello`: only canonical keys with non-negative integer values are kept, the rest ignored.
struct hello_frame {
  std::vector<std::pair<channel_id, uint64_t>> last_seq_map;
};

/// `message.send`, fully validated (text 1..4000 bytes, client_msg_id 1..64 of [A-Za-z0-9_-]).
struct send_frame {
  channel_id channel;
  std::string text;
  std::string client_msg_id;
};

/// `backfill`, with defaults applied and limit clamped to 1..100.
struct backfill_frame {
  channel_id channel;
  uint64_t after_seq = 0;
  uint32_t limit = max_backfill_limit;
};

/// `presence.set`: "online" or "away".
struct presence_set_frame {
  presence_status status = presence_status::online;
};

/// `presence.get`.
struct presence_get_frame {
  channel_id channel;
};

/// `presence.subscribe` / `presence.unsubscribe`: 1..100 distinct user ids, ascending.
struct presence_watch_frame {
  bool subscribe = true;
  std::vector<user_id> users;
};

/// `ping`: `ts_json` is the client's `ts` re-serialized, echoed verbatim in the pong ("null" if
/// absent).
struct ping_frame {
  std::string ts_json = "null";
};

using client_frame = std::variant<hello_frame, send_frame, backfill_frame, presence_set_frame,
                                  presence_get_frame, presence_watch_frame, ping_frame>;

/// A refused frame: rendered as an `error` frame; the connection stays open.
struct frame_error {
  error_code code = error_code::bad_request;
  std::string message;
  std::optional<std::string> ref_id;     // the client_msg_id when the frame carried a valid one
  std::optional<channel_id> channel;     // the channel when the frame named a valid one
};

/// Either a frame or the error it earns.
using parse_result = std::variant<client_frame, frame_error>;

/// Parses and validates one client text frame (docs/protocol.md "Client -> server", "Edge rules").
/// Never throws: invalid JSON, nesting deeper than 32, wrong types, unknown `type` -> bad_request;
/// over-long text -> msg_too_long.
parse_result parse_client_frame(std::string_view text);

/// True for a valid client_msg_id: 1..64 characters of [A-Za-z0-9_-].
bool valid_client_msg_id(std::string_view id);

// -- Field validators ------------------------------------------------------------------------
// The frame parser and the REST calls (runtime/rest_api.cpp) check fields with these same
// functions, so a field is refused alike over WebSocket and HTTP. Each reads one field of a
// JSON object and returns its value or the error it earns; the error carries no ref_id or
// channel (the caller adds what it knows).

/// A field's value, or the error it earns.
template <class T>
using field_result = std::variant<T, frame_error>;

/// `text`: a string of 1..4000 bytes (the JSON parser has checked the UTF-8). Over-long ->
/// msg_too_long; absent, not a string or empty -> bad_request.
field_result<std::string> text_field(const nlohmann::json& obj);

/// `client_msg_id`: a string that passes `valid_client_msg_id`.
field_result<std::string> client_msg_id_field(const nlohmann::json& obj);

/// `channel_id`: a canonical channel id string like "C42".
field_result<channel_id> channel_id_field(const nlohmann::json& obj);

/// `after_seq`: an integer 0..2^63-1 (seqs are BIGINT); 0 when absent.
field_result<uint64_t> after_seq_field(const nlohmann::json& obj);

/// `limit`: any integer, clamped to 1..100; 100 when absent.
field_result<uint32_t> limit_field(const nlohmann::json& obj);

} // namespace parley
