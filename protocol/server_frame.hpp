#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/client_frame.hpp"
#include "protocol/message.hpp"
#include "protocol/presence_status.hpp"

namespace parley {

/// An encoded server frame. Immutable once shared: one encoding serves every recipient.
using frame_ptr = std::shared_ptr<const std::string>;

/// The `<message>` object of docs/protocol.md: channel_id, channel_seq, user_id, text, ts,
/// client_msg_id.
nlohmann::json message_json(const chat_message& m);

std::string encode_hello_ack(user_id user, const std::string& session_id,
                             const std::vector<std::pair<channel_id, uint64_t>>& channels);
std::string encode_backfill(channel_id channel, uint64_t after_seq,
                            const std::vector<chat_message>& messages, bool has_more);
std::string encode_message_new(const chat_message& m);
std::string encode_ack(const send_ack& ack);
std::string encode_cursor(channel_id channel, uint64_t latest_seq);
std::string encode_joined(channel_id channel, uint64_t latest_seq);
std::string encode_left(channel_id channel);
std::string encode_presence_update(user_id user, channel_id channel, presence_status status);
std::string encode_presence_state(channel_id channel,
                                  const std::vector<std::pair<user_id, presence_status>>& users);
/// A subscribed user's transition: presence.update without channel_id.
std::string encode_presence_update(user_id user, presence_status status);
/// The answer to presence.subscribe.
std::string encode_presence_users(const std::vector<std::pair<user_id, presence_status>>& users);
/// `{"type":"error","code","message","ref_id":<id or null>[,"channel_id"]}`.
std::string encode_error(const frame_error& e);
std::string encode_pong(const std::string& ts_json);

/// Shares an encoded frame.
inline frame_ptr share(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

} // namespace parley
