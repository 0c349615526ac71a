#include "storage/event_export.hpp"

#include <nlohmann/json.hpp>

namespace parley::storage {

std::string export_json(const chat_message& msg) {
  nlohmann::json j{
    {"workspace_id", msg.workspace.str()},
    {"channel_id", msg.channel.str()},
    {"channel_seq", msg.seq},
    {"user_id", msg.user.str()},
    {"text", msg.text},
    {"ts", msg.ts},
    {"client_msg_id", msg.client_msg_id},
  };
  // Invalid UTF-8 cannot be stored (docs/protocol.md "Rules"); replace rather than throw anyway.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string export_json(const presence_event& ev) {
  nlohmann::json j{
    {"workspace_id", ev.who.workspace.str()},
    {"user_id", ev.who.user.str()},
    {"node", ev.node},
    {"status", std::string(to_string(ev.status))},
    {"ts", ev.ts},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace parley::storage
