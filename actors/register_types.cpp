#include "actors/register_types.hpp"

#include "actors/errors.hpp"
#include "actors/interfaces.hpp"
#include "storage/errors.hpp"

namespace parley {

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<workspace_id>("parley::workspace_id");
  cfg.add_message_type<channel_id>("parley::channel_id");
  cfg.add_message_type<user_id>("parley::user_id");
  cfg.add_message_type<principal>("parley::principal");
  cfg.add_message_type<presence_status>("parley::presence_status");
  cfg.add_message_type<chat_message>("parley::chat_message");
  cfg.add_message_type<send_ack>("parley::send_ack");
  cfg.add_message_type<send_request>("parley::send_request");
  cfg.add_message_type<send_reply>("parley::send_reply");
  cfg.add_message_type<backfill_page>("parley::backfill_page");
  cfg.add_message_type<delivery>("parley::delivery");
  cfg.add_message_type<delivery_batch>("parley::delivery_batch");
  cfg.add_message_type<presence_entry>("parley::presence_entry");
  cfg.add_message_type<channel_snapshot>("parley::channel_snapshot");
  cfg.add_message_type<channel_position>("parley::channel_position");
  cfg.add_message_type<storage::append_outcome>("parley::append_outcome");
  // Typed handles that cross nodes inside messages.
  cfg.add_message_type<gateway_actor>("parley::gateway_actor");
  cfg.add_message_type<channel_actor>("parley::channel_actor");
  cfg.add_message_type<presence_actor>("parley::presence_actor");
  cfg.add_message_type<storage::channel_summary>("parley::channel_summary");
  cfg.add_message_type<std::vector<storage::channel_summary>>(
    "std::vector<parley::channel_summary>");
  cfg.add_message_type<std::vector<chat_message>>("std::vector<parley::chat_message>");
  cfg.add_message_type<std::vector<user_id>>("std::vector<parley::user_id>");
  cfg.add_message_type<std::vector<channel_id>>("std::vector<parley::channel_id>");
  cfg.add_message_type<std::vector<channel_position>>("std::vector<parley::channel_position>");
  cfg.add_message_type<std::vector<presence_entry>>("std::vector<parley::presence_entry>");
  cfg.add_error_category(
    protocol_error_category, [](uint8_t code, caf::atom_value, const caf::message&) {
      return "parley:" + std::string(to_string(static_cast<error_code>(code - 1)));
    });
  cfg.add_error_category(storage::error_category, [](uint8_t code, caf::atom_value,
                                                     const caf::message& ctx) {
    return "storage:" + storage::to_string(static_cast<storage::errc>(code)) + " "
           + caf::to_string(ctx);
  });
}

} // namespace parley
