#include "protocol/client_frame.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

#include <nlohmann/json.hpp>

#include "protocol/json_parse.hpp"

namespace parley {

namespace {

using json = nlohmann::json;

constexpr uint64_t max_seq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

/// What an error frame can say about the frame it refuses (docs/protocol.md "Server -> client").
struct error_context {
  std::optional<std::string> ref_id;
  std::optional<channel_id> channel;
};

frame_error fail(error_code code, std::string message) {
  return frame_error{code, std::move(message), std::nullopt, std::nullopt};
}

/// The non-negative integer in `j` if it is a JSON integer in 0 ... 2^63-1 (seqs are BIGINT).
std::optional<uint64_t> as_seq(const json& j) {
  if (j.is_number_unsigned()) {
    auto v = j.get<uint64_t>();
    if (v <= max_seq)
      return v;
    return std::nullopt;
  }
  if (j.is_number_integer()) {
    auto v = j.get<int64_t>();
    if (v >= 0)
      return static_cast<uint64_t>(v);
  }
  return std::nullopt;
}

/// A field error with what the error frame can say about its frame.
frame_error with_context(frame_error e, const error_context& ctx) {
  e.ref_id = ctx.ref_id;
  e.channel = ctx.channel;
  return e;
}

parse_result parse_hello(const json& obj) {
  hello_frame f;
  auto it = obj.find("last_seq_map");
  // An absent map is an empty one: a first-time client has nothing to catch up on.
  if (it == obj.end())
    return client_frame{std::move(f)};
  if (!it->is_object())
    return fail(error_code::bad_request, "last_seq_map must be an object");
  // docs/protocol.md "Edge rules": bad entries are ignored, not fatal.
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    auto channel = channel_id::parse(entry.key());
    auto seq = as_seq(entry.value());
    if (channel && seq)
      f.last_seq_map.emplace_back(*channel, *seq);
  }
  return client_frame{std::move(f)};
}

parse_result parse_send(const json& obj) {
  // The error frame names the client_msg_id and channel whenever they are valid, so the
  // client can match a refusal to its pending send whichever field was wrong.
  error_context ctx;
  auto id = client_msg_id_field(obj);
  if (auto valid = std::get_if<std::string>(&id))
    ctx.ref_id = *valid;
  auto channel = channel_id_field(obj);
  if (auto valid = std::get_if<channel_id>(&channel))
    ctx.channel = *valid;

  // docs/protocol.md "Edge rules": frame shape is checked as channel_id, text, client_msg_id.
  if (auto err = std::get_if<frame_error>(&channel))
    return with_context(*err, ctx);
  auto text = text_field(obj);
  if (auto err = std::get_if<frame_error>(&text))
    return with_context(*err, ctx);
  if (auto err = std::get_if<frame_error>(&id))
    return with_context(*err, ctx);
  return client_frame{send_frame{*ctx.channel, std::get<std::string>(std::move(text)),
                                 *ctx.ref_id}};
}

parse_result parse_backfill(const json& obj) {
  auto channel = channel_id_field(obj);
  if (auto err = std::get_if<frame_error>(&channel))
    return *err;
  error_context ctx;
  ctx.channel = std::get<channel_id>(channel);
  auto after = after_seq_field(obj);
  if (auto err = std::get_if<frame_error>(&after))
    return with_context(*err, ctx);
  auto limit = limit_field(obj);
  if (auto err = std::get_if<frame_error>(&limit))
    return with_context(*err, ctx);
  return client_frame{backfill_frame{*ctx.channel, std::get<uint64_t>(after),
                                     std::get<uint32_t>(limit)}};
}

parse_result parse_presence_set(const json& obj) {
  auto it = obj.find("status");
  if (it != obj.end() && it->is_string()) {
    const auto& s = it->get_ref<const std::string&>();
    // "offline" is not something a client can set: it follows from closing connections.
    if (s == "online")
      return client_frame{presence_set_frame{presence_status::online}};
    if (s == "away")
      return client_frame{presence_set_frame{presence_status::away}};
  }
  return fail(error_code::bad_request, "status must be \"online\" or \"away\"");
}

parse_result parse_presence_get(const json& obj) {
  auto channel = channel_id_field(obj);
  if (auto err = std::get_if<frame_error>(&channel))
    return *err;
  return client_frame{presence_get_frame{std::get<channel_id>(channel)}};
}

parse_result parse_presence_watch(const json& obj, bool subscribe) {
  auto it = obj.find("user_ids");
  auto bad = [] {
    return fail(error_code::bad_request, "user_ids must be an array of 1 to " +
                                           std::to_string(max_presence_ids_per_frame) +
                                           " user ids");
  };
  if (it == obj.end() || !it->is_array() || it->empty() ||
      it->size() > max_presence_ids_per_frame)
    return bad();
  presence_watch_frame f{subscribe, {}};
  for (auto& id : *it) {
    auto user = id.is_string() ? user_id::parse(id.get_ref<const std::string&>()) : std::nullopt;
    if (!user)
      return bad();
    f.users.push_back(*user);
  }
  std::sort(f.users.begin(), f.users.end());
  f.users.erase(std::unique(f.users.begin(), f.users.end()), f.users.end());
  return client_frame{std::move(f)};
}

parse_result parse_ping(const json& obj) {
  ping_frame f;
  if (auto it = obj.find("ts"); it != obj.end())
    f.ts_json = it->dump(-1, ' ', false, json::error_handler_t::replace);
  return client_frame{std::move(f)};
}

parse_result parse_object(const json& obj) {
  auto type_it = obj.find("type");
  if (type_it == obj.end() || !type_it->is_string())
    return fail(error_code::bad_request, "type must be a string");
  const auto& type = type_it->get_ref<const std::string&>();
  if (type == "message.send")
    return parse_send(obj);
  if (type == "ping")
    return parse_ping(obj);
  if (type == "backfill")
    return parse_backfill(obj);
  if (type == "hello")
    return parse_hello(obj);
  if (type == "presence.set")
    return parse_presence_set(obj);
  if (type == "presence.get")
    return parse_presence_get(obj);
  if (type == "presence.subscribe")
    return parse_presence_watch(obj, true);
  if (type == "presence.unsubscribe")
    return parse_presence_watch(obj, false);
  return fail(error_code::bad_request, "type is not a known frame type");
}

} // namespace

bool valid_client_msg_id(std::string_view id) {
  if (id.empty() || id.size() > max_client_msg_id)
    return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

field_result<std::string> text_field(const json& obj) {
  auto it = obj.find("text");
  if (it == obj.end() || !it->is_string())
    return fail(error_code::bad_request, "text must be a string");
  const auto& text = it->get_ref<const std::string&>();
  // The parser has already checked the text is valid UTF-8; size() counts its bytes.
  if (text.empty())
    return fail(error_code::bad_request, "text must be 1 to 4000 bytes");
  if (text.size() > max_text_bytes)
    return fail(error_code::msg_too_long, "text must be 1 to 4000 bytes");
  return text;
}

field_result<std::string> client_msg_id_field(const json& obj) {
  auto it = obj.find("client_msg_id");
  if (it == obj.end() || !it->is_string()
      || !valid_client_msg_id(it->get_ref<const std::string&>()))
    return fail(error_code::bad_request,
                "client_msg_id must be 1 to 64 characters of A-Z, a-z, 0-9, _ or -");
  return it->get<std::string>();
}

field_result<channel_id> channel_id_field(const json& obj) {
  auto it = obj.find("channel_id");
  std::optional<channel_id> channel;
  if (it != obj.end() && it->is_string())
    channel = channel_id::parse(it->get_ref<const std::string&>());
  if (!channel)
    return fail(error_code::bad_request, "channel_id must be a channel id like C42");
  return *channel;
}

field_result<uint64_t> after_seq_field(const json& obj) {
  auto it = obj.find("after_seq");
  if (it == obj.end())
    return uint64_t{0};
  if (auto seq = as_seq(*it))
    return *seq;
  return fail(error_code::bad_request, "after_seq must be an integer from 0 to 2^63-1");
}

field_result<uint32_t> limit_field(const json& obj) {
  auto it = obj.find("limit");
  if (it == obj.end())
    return max_backfill_limit;
  // docs/protocol.md "Rules": limit is clamped to 1 ... 100; only a non-integer is refused.
  auto clamp = [](auto v) {
    return static_cast<uint32_t>(v < 1 ? 1 : (v > max_backfill_limit ? max_backfill_limit : v));
  };
  if (it->is_number_unsigned())
    return clamp(it->get<uint64_t>());
  if (it->is_number_integer())
    return clamp(it->get<int64_t>());
  return fail(error_code::bad_request, "limit must be an integer");
}

parse_result parse_client_frame(std::string_view text) {
  try {
    bool too_deep = false;
    auto j = parse_json_limited(text, &too_deep);
    if (!j) {
      if (too_deep)
        return fail(error_code::bad_request, "frame must not nest deeper than 32 levels");
      return fail(error_code::bad_request, "frame must be valid JSON");
    }
    if (!j->is_object())
      return fail(error_code::bad_request, "frame must be a JSON object");
    return parse_object(*j);
  } catch (...) {
    // Untrusted input never escapes as an exception (STYLE.md "Errors").
    try {
      return fail(error_code::bad_request, "frame could not be parsed");
    } catch (...) {
      return frame_error{};
    }
  }
}

} // namespace parley
