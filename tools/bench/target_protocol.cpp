#include "tools/bench/target_protocol.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "protocol/ids.hpp"
#include "protocol/jwt.hpp"

namespace parley::bench {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Fills the fields of a peer "msg" frame from its payload.
std::optional<scanned_frame> peer_message(std::string_view raw) {
  scanned_frame f;
  f.kind = frame_kind::message_new;
  f.type = "msg";
  f.channel_id = string_field(raw, "room").value_or("");
  auto payload = string_field(raw, "payload");
  if (!payload || !parse_payload(*payload, f.send_ns, f.client_msg_id))
    f.kind = frame_kind::other;
  return f;
}

scanned_frame peer_ack(std::string_view raw) {
  scanned_frame f;
  f.type = "ack";
  if (auto id = string_field(raw, "id")) {
    f.kind = frame_kind::message_ack;
    f.client_msg_id = *id;
  } else {
    f.kind = frame_kind::error;
    f.code = "peer_error";
  }
  return f;
}

} // namespace

std::optional<target_kind> parse_target(std::string_view name) {
  if (name == "parley")
    return target_kind::parley;
  if (name == "socketio")
    return target_kind::socketio;
  if (name == "ws")
    return target_kind::ws;
  return std::nullopt;
}

const char* target_name(target_kind k) {
  switch (k) {
    case target_kind::parley: return "parley";
    case target_kind::socketio: return "socketio";
    case target_kind::ws: return "ws";
  }
  return "?";
}

std::string make_payload(std::string_view id, int64_t send_ns, size_t pad_to) {
  std::string p = "t=" + std::to_string(send_ns) + ";id=";
  p += id;
  p += ';';
  if (p.size() < pad_to)
    p.append(pad_to - p.size(), 'x');
  return p;
}

bool parse_payload(std::string_view payload, int64_t& send_ns, std::string_view& id) {
  if (!starts_with(payload, "t="))
    return false;
  auto semi = payload.find(';');
  if (semi == std::string_view::npos)
    return false;
  auto r = std::from_chars(payload.data() + 2, payload.data() + semi, send_ns);
  if (r.ec != std::errc() || r.ptr != payload.data() + semi)
    return false;
  auto rest = payload.substr(semi + 1);
  if (!starts_with(rest, "id="))
    return false;
  auto end = rest.find(';');
  id = rest.substr(3, end == std::string_view::npos ? std::string_view::npos : end - 3);
  return true;
}

std::string target_protocol::ws_path(uint64_t user, const std::string& workspace,
                                     const std::string& secret, int64_t exp_unix) const {
  switch (kind_) {
    case target_kind::parley: {
      jwt_claims claims{user_id{user}, *workspace_id::parse(workspace), exp_unix};
      return "/v1/ws?token=" + jwt_sign(claims, secret) + "&workspace_id=" + workspace;
    }
    case target_kind::socketio: return "/socket.io/?EIO=4&transport=websocket";
    case target_kind::ws: return "/";
  }
  return "/";
}

std::string target_protocol::first_frame(const std::string& room) const {
  switch (kind_) {
    case target_kind::parley: return R"({"type":"hello","last_seq_map":{}})";
    case target_kind::socketio: return "";  // the server opens with "0{...}"
    case target_kind::ws: return nlohmann::json{{"type", "join"}, {"room", room}}.dump();
  }
  return "";
}

setup_step target_protocol::on_setup_frame(std::string_view raw, const std::string& room) const {
  setup_step s;
  switch (kind_) {
    case target_kind::parley:
      if (auto f = scan_frame(raw); f && f->kind == frame_kind::hello_ack)
        s.consumed = s.ready = true;
      return s;
    case target_kind::ws: {
      auto type = string_field(raw, "type");
      if (type == "joined")
        s.consumed = s.ready = true;
      else if (type == "error")
        s.consumed = true, s.error = "join refused: " + std::string(raw);
      return s;
    }
    case target_kind::socketio:
      // Engine.IO open, then Socket.IO CONNECT of the main namespace, then our join ack.
      s.consumed = true;
      if (starts_with(raw, "0{"))
        s.reply = "40";
      else if (starts_with(raw, "40"))
        s.reply = "420" + nlohmann::json::array({"join", room}).dump();
      else if (starts_with(raw, "430"))
        s.ready = raw.find("\"error\"") == std::string_view::npos;
      else if (starts_with(raw, "44"))
        s.error = "namespace connect refused: " + std::string(raw);
      else
        s.consumed = false;
      if (starts_with(raw, "430") && !s.ready)
        s.error = "join refused: " + std::string(raw);
      return s;
  }
  return s;
}

std::optional<scanned_frame> target_protocol::scan(std::string_view raw) const {
  switch (kind_) {
    case target_kind::parley: {
      auto f = scan_frame(raw);
      if (f && f->kind == frame_kind::message_new) {
        std::string_view id;
        if (auto text = string_field(raw, "text"))
          parse_payload(*text, f->send_ns, id);
      }
      return f;
    }
    case target_kind::ws: {
      auto type = string_field(raw, "type");
      if (!type)
        return std::nullopt;
      if (*type == "msg")
        return peer_message(raw);
      if (*type == "ack")
        return peer_ack(raw);
      scanned_frame f;
      f.type = *type;
      if (*type == "error") {
        f.kind = frame_kind::error;
        f.code = "peer_error";
      }
      return f;
    }
    case target_kind::socketio:
      if (starts_with(raw, "42[\"msg\","))
        return peer_message(raw);
      if (starts_with(raw, "43"))
        return peer_ack(raw);
      if (starts_with(raw, "3") || starts_with(raw, "2")) {
        scanned_frame f;
        f.kind = frame_kind::pong;
        return f;
      }
      return std::nullopt;
  }
  return std::nullopt;
}

bool target_protocol::is_server_ping(std::string_view raw) const {
  return kind_ == target_kind::socketio && raw == "2";
}

std::string target_protocol::keepalive() const {
  // docs/protocol.md "Rules": Parley closes after 30 s of client silence; the peers do not
  // (Engine.IO keeps itself alive with server pings, answered in the fleet).
  return kind_ == target_kind::parley ? R"({"type":"ping","ts":0})" : "";
}

std::string target_protocol::send_frame(const std::string& room, std::string_view id,
                                        const std::string& payload) const {
  switch (kind_) {
    case target_kind::parley:
      return nlohmann::json{{"type", "message.send"}, {"channel_id", room}, {"text", payload},
                            {"client_msg_id", id}}
        .dump();
    case target_kind::ws:
      return nlohmann::json{{"type", "send"}, {"room", room}, {"payload", payload}, {"id", id}}
        .dump();
    case target_kind::socketio:
      return "42" + std::to_string(next_ack_++)
             + nlohmann::json::array({"send", {{"room", room}, {"payload", payload}, {"id", id}}})
                 .dump();
  }
  return "";
}

} // namespace parley::bench
