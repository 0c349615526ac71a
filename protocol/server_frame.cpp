#include "protocol/server_frame.hpp"

namespace parley {

namespace {

// Frames keep the field order of docs/protocol.md ("type" first), which plain nlohmann::json would
// sort.
using ojson = nlohmann::ordered_json;

std::string dump(const ojson& j) {
  // Text from clients is valid UTF-8 by the time it gets here; replace keeps dump from ever
  // throwing should that invariant break.
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

template <class Json>
void put_message_fields(Json& j, const chat_message& m) {
  j["channel_id"] = m.channel.str();
  j["channel_seq"] = m.seq;
  j["user_id"] = m.user.str();
  j["text"] = m.text;
  j["ts"] = m.ts;
  j["client_msg_id"] = m.client_msg_id;
}

ojson message_object(const chat_message& m) {
  ojson j = ojson::object();
  put_message_fields(j, m);
  return j;
}

} // namespace

nlohmann::json message_json(const chat_message& m) {
  nlohmann::json j = nlohmann::json::object();
  put_message_fields(j, m);
  return j;
}

std::string encode_hello_ack(user_id user, const std::string& session_id,
                             const std::vector<std::pair<channel_id, uint64_t>>& channels) {
  ojson chans = ojson::object();
  for (const auto& [channel, seq] : channels)
    chans[channel.str()] = seq;
  ojson j = ojson::object();
  j["type"] = "hello_ack";
  j["user_id"] = user.str();
  j["session_id"] = session_id;
  j["channels"] = std::move(chans);
  return dump(j);
}

std::string encode_backfill(channel_id channel, uint64_t after_seq,
                            const std::vector<chat_message>& messages, bool has_more) {
  ojson msgs = ojson::array();
  for (const auto& m : messages)
    msgs.push_back(message_object(m));
  ojson j = ojson::object();
  j["type"] = "message.backfill";
  j["channel_id"] = channel.str();
  j["after_seq"] = after_seq;
  j["messages"] = std::move(msgs);
  j["has_more"] = has_more;
  return dump(j);
}

std::string encode_message_new(const chat_message& m) {
  ojson j = ojson::object();
  j["type"] = "message.new";
  put_message_fields(j, m);
  return dump(j);
}

std::string encode_ack(const send_ack& ack) {
  ojson j = ojson::object();
  j["type"] = "message.ack";
  j["client_msg_id"] = ack.client_msg_id;
  j["channel_id"] = ack.channel.str();
  j["channel_seq"] = ack.seq;
  j["ts"] = ack.ts;
  return dump(j);
}

std::string encode_cursor(channel_id channel, uint64_t latest_seq) {
  ojson j = ojson::object();
  j["type"] = "channel.cursor";
  j["channel_id"] = channel.str();
  j["latest_seq"] = latest_seq;
  return dump(j);
}

std::string encode_joined(channel_id channel, uint64_t latest_seq) {
  ojson j = ojson::object();
  j["type"] = "channel.joined";
  j["channel_id"] = channel.str();
  j["latest_seq"] = latest_seq;
  return dump(j);
}

std::string encode_left(channel_id channel) {
  ojson j = ojson::object();
  j["type"] = "channel.left";
  j["channel_id"] = channel.str();
  return dump(j);
}

std::string encode_presence_update(user_id user, channel_id channel, presence_status status) {
  ojson j = ojson::object();
  j["type"] = "presence.update";
  j["user_id"] = user.str();
  j["channel_id"] = channel.str();
  j["status"] = std::string(to_string(status));
  return dump(j);
}

namespace {

ojson user_statuses(const std::vector<std::pair<user_id, presence_status>>& users) {
  ojson list = ojson::array();
  for (const auto& [user, status] : users) {
    ojson u = ojson::object();
    u["user_id"] = user.str();
    u["status"] = std::string(to_string(status));
    list.push_back(std::move(u));
  }
  return list;
}

} // namespace

std::string encode_presence_state(channel_id channel,
                                  const std::vector<std::pair<user_id, presence_status>>& users) {
  ojson j = ojson::object();
  j["type"] = "presence.state";
  j["channel_id"] = channel.str();
  j["users"] = user_statuses(users);
  return dump(j);
}

std::string encode_presence_update(user_id user, presence_status status) {
  ojson j = ojson::object();
  j["type"] = "presence.update";
  j["user_id"] = user.str();
  j["status"] = std::string(to_string(status));
  return dump(j);
}

std::string encode_presence_users(const std::vector<std::pair<user_id, presence_status>>& users) {
  ojson j = ojson::object();
  j["type"] = "presence.users";
  j["users"] = user_statuses(users);
  return dump(j);
}

std::string encode_error(const frame_error& e) {
  ojson j = ojson::object();
  j["type"] = "error";
  j["code"] = std::string(to_string(e.code));
  j["message"] = e.message;
  // docs/protocol.md "Server -> client": ref_id is always present, null when there is none;
  // channel_id only when the refusal concerns a channel.
  if (e.ref_id)
    j["ref_id"] = *e.ref_id;
  else
    j["ref_id"] = nullptr;
  if (e.channel)
    j["channel_id"] = e.channel->str();
  return dump(j);
}

std::string encode_pong(const std::string& ts_json) {
  // ts_json is our own re-serialization of the client's value; parsing it back (rather than
  // splicing text) guarantees the pong is valid JSON even if a caller passes garbage.
  ojson ts = ojson::parse(ts_json, nullptr, /*allow_exceptions=*/false);
  if (ts.is_discarded())
    ts = nullptr;
  ojson j = ojson::object();
  j["type"] = "pong";
  j["ts"] = std::move(ts);
  return dump(j);
}

} // namespace parley
