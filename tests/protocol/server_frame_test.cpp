#include <catch2/catch.hpp>

#include <string>

#include <nlohmann/json.hpp>

#include "protocol/client_frame.hpp"
#include "protocol/error_code.hpp"
#include "protocol/presence_status.hpp"
#include "protocol/server_frame.hpp"

using namespace parley;

namespace {

chat_message sample(uint64_t seq, std::string text = "hi") {
  chat_message m;
  m.workspace = workspace_id{1};
  m.channel = channel_id{1};
  m.seq = seq;
  m.user = user_id{7};
  m.client_msg_id = "m" + std::to_string(seq);
  m.text = std::move(text);
  m.ts = 1700000000000000 + static_cast<int64_t>(seq);
  return m;
}

} // namespace

TEST_CASE("hello_ack lists the user's channels with their latest seq", "[protocol][server_frame]") {
  CHECK(encode_hello_ack(user_id{7}, "s1", {{channel_id{1}, 52}, {channel_id{2}, 0}})
        == R"({"type":"hello_ack","user_id":"U7","session_id":"s1","channels":{"C1":52,"C2":0}})");
  CHECK(encode_hello_ack(user_id{7}, "s1", {})
        == R"({"type":"hello_ack","user_id":"U7","session_id":"s1","channels":{}})");
}

TEST_CASE("message.new carries the message fields", "[protocol][server_frame]") {
  CHECK(encode_message_new(sample(53))
        == R"({"type":"message.new","channel_id":"C1","channel_seq":53,"user_id":"U7",)"
           R"("text":"hi","ts":1700000000000053,"client_msg_id":"m53"})");
}

TEST_CASE("message_json has exactly the six message fields", "[protocol][server_frame]") {
  auto j = message_json(sample(4));
  CHECK(j.size() == 6);
  CHECK(j["channel_id"] == "C1");
  CHECK(j["channel_seq"] == 4);
  CHECK(j["user_id"] == "U7");
  CHECK(j["text"] == "hi");
  CHECK(j["ts"] == 1700000000000004);
  CHECK(j["client_msg_id"] == "m4");
  CHECK_FALSE(j.contains("workspace_id"));
}

TEST_CASE("message.backfill echoes after_seq and lists messages in order",
          "[protocol][server_frame]") {
  auto text = encode_backfill(channel_id{1}, 47, {sample(48), sample(49)}, true);
  CHECK(text.rfind(R"({"type":"message.backfill","channel_id":"C1","after_seq":47,"messages":[)",
                   0)
        == 0);
  auto j = nlohmann::json::parse(text);
  REQUIRE(j["messages"].size() == 2);
  CHECK(j["messages"][0] == message_json(sample(48)));
  CHECK(j["messages"][1]["channel_seq"] == 49);
  CHECK(j["has_more"] == true);
  CHECK(
    encode_backfill(channel_id{3}, 0, {}, false)
    == R"({"type":"message.backfill","channel_id":"C3","after_seq":0,"messages":[],)"
      R"("has_more":false})");
}

TEST_CASE("message.ack carries client_msg_id, channel, seq and ts", "[protocol][server_frame]") {
  send_ack ack{"abc", channel_id{1}, 53, 1700000000000001};
  CHECK(
    encode_ack(ack)
    == R"({"type":"message.ack","client_msg_id":"abc","channel_id":"C1","channel_seq":53,)"
      R"("ts":1700000000000001})");
}

TEST_CASE("channel frames encode as in docs/protocol.md", "[protocol][server_frame]") {
  CHECK(encode_cursor(channel_id{9}, 9000)
        == R"({"type":"channel.cursor","channel_id":"C9","latest_seq":9000})");
  CHECK(encode_joined(channel_id{5}, 12)
        == R"({"type":"channel.joined","channel_id":"C5","latest_seq":12})");
  CHECK(encode_left(channel_id{5}) == R"({"type":"channel.left","channel_id":"C5"})");
}

TEST_CASE("presence frames encode every status", "[protocol][server_frame]") {
  CHECK(encode_presence_update(user_id{7}, channel_id{1}, presence_status::online)
        == R"({"type":"presence.update","user_id":"U7","channel_id":"C1","status":"online"})");
  CHECK(encode_presence_update(user_id{7}, channel_id{1}, presence_status::away)
        == R"({"type":"presence.update","user_id":"U7","channel_id":"C1","status":"away"})");
  CHECK(encode_presence_update(user_id{7}, channel_id{1}, presence_status::offline)
        == R"({"type":"presence.update","user_id":"U7","channel_id":"C1","status":"offline"})");
  CHECK(
    encode_presence_state(
      channel_id{1}, {{user_id{7}, presence_status::online}, {user_id{8}, presence_status::away}})
    == R"({"type":"presence.state","channel_id":"C1","users":[{"user_id":"U7","status":"online"},)"
      R"({"user_id":"U8","status":"away"}]})");
  CHECK(encode_presence_state(channel_id{1}, {})
        == R"({"type":"presence.state","channel_id":"C1","users":[]})");
}

TEST_CASE("error frame always has ref_id and channel_id only when set",
          "[protocol][server_frame]") {
  frame_error plain{error_code::bad_request, "frame must be valid JSON", std::nullopt,
                    std::nullopt};
  CHECK(
    encode_error(plain)
    == R"({"type":"error","code":"bad_request","message":"frame must be valid JSON",)"
      R"("ref_id":null})");
  frame_error full{error_code::not_in_channel, "not a member", std::string("m1"), channel_id{4}};
  CHECK(
    encode_error(full)
    == R"({"type":"error","code":"not_in_channel","message":"not a member","ref_id":"m1",)"
      R"("channel_id":"C4"})");
}

TEST_CASE("errors from the parser render with their ref_id and channel",
          "[protocol][server_frame]") {
  auto r = parse_client_frame(
    R"({"type":"message.send","channel_id":"C2","text":"","client_msg_id":"k9"})");
  REQUIRE(std::holds_alternative<frame_error>(r));
  auto j = nlohmann::json::parse(encode_error(std::get<frame_error>(r)));
  CHECK(j["code"] == "bad_request");
  CHECK(j["ref_id"] == "k9");
  CHECK(j["channel_id"] == "C2");
}

TEST_CASE("pong echoes the ts JSON", "[protocol][server_frame]") {
  CHECK(encode_pong("123") == R"({"type":"pong","ts":123})");
  CHECK(encode_pong("null") == R"({"type":"pong","ts":null})");
  CHECK(encode_pong(R"({"a":[1,2],"b":"x"})") == R"({"type":"pong","ts":{"a":[1,2],"b":"x"}})");
  CHECK(encode_pong("1e+20") == R"({"type":"pong","ts":1e+20})");
}

TEST_CASE("pong round-trips what the ping parser produced", "[protocol][server_frame]") {
  for (std::string ts : {"123", "-5", "1.25", "\"abc\"", "[1,{\"z\":null,\"a\":true}]", "{}",
                         "99999999999999999999", "18446744073709551615"}) {
    auto r = parse_client_frame(R"({"type":"ping","ts":)" + ts + "}");
    REQUIRE(std::holds_alternative<client_frame>(r));
    const auto& ping = std::get<ping_frame>(std::get<client_frame>(r));
    auto pong = nlohmann::json::parse(encode_pong(ping.ts_json));
    CHECK(pong["ts"] == nlohmann::json::parse(ts));
  }
}

TEST_CASE("pong with unparsable ts JSON sends null instead of broken JSON",
          "[protocol][server_frame]") {
  CHECK(encode_pong("{") == R"({"type":"pong","ts":null})");
  CHECK(encode_pong("") == R"({"type":"pong","ts":null})");
}

TEST_CASE("text is escaped so every frame is valid JSON", "[protocol][server_frame]") {
  std::string tricky = "quote\" backslash\\ newline\n tab\t nul";
  tricky += '\0';
  tricky += " ctrl\x01 unicode \xc3\xa9\xf0\x9f\x98\x80 </script>";
  auto m = sample(1, tricky);
  auto j = nlohmann::json::parse(encode_message_new(m));
  CHECK(j["text"] == tricky);
}

TEST_CASE("invalid UTF-8 in a frame is replaced rather than thrown", "[protocol][server_frame]") {
  auto m = sample(1, "bad \xff\xfe bytes");
  std::string text;
  REQUIRE_NOTHROW(text = encode_message_new(m));
  auto j = nlohmann::json::parse(text);
  CHECK(j["text"] == "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
  frame_error e{error_code::bad_request, "x", std::string("\xc3"), std::nullopt};
  REQUIRE_NOTHROW(encode_error(e));
}

TEST_CASE("seqs up to 2^63-1 and negative ts encode exactly", "[protocol][server_frame]") {
  CHECK(encode_cursor(channel_id{1}, 9223372036854775807ull)
        == R"({"type":"channel.cursor","channel_id":"C1","latest_seq":9223372036854775807})");
  auto m = sample(1);
  m.ts = -1;
  CHECK(nlohmann::json::parse(encode_message_new(m))["ts"] == -1);
}

TEST_CASE("share wraps an encoded frame once for every recipient", "[protocol][server_frame]") {
  auto f = share(encode_left(channel_id{2}));
  auto g = f;
  CHECK(f.get() == g.get());
  CHECK(*f == R"({"type":"channel.left","channel_id":"C2"})");
}

TEST_CASE("error codes have their wire spelling and HTTP status", "[protocol][error_code]") {
  CHECK(to_string(error_code::bad_request) == "bad_request");
  CHECK(to_string(error_code::not_in_channel) == "not_in_channel");
  CHECK(to_string(error_code::rate_limited) == "rate_limited");
  CHECK(to_string(error_code::msg_too_long) == "msg_too_long");
  CHECK(to_string(error_code::unavailable) == "unavailable");
  CHECK(to_string(error_code::unauthorized) == "unauthorized");
  CHECK(to_string(error_code::not_found) == "not_found");
  CHECK(to_string(error_code::method_not_allowed) == "method_not_allowed");
  CHECK(http_status(error_code::bad_request) == 400);
  CHECK(http_status(error_code::unauthorized) == 401);
  CHECK(http_status(error_code::not_in_channel) == 403);
  CHECK(http_status(error_code::not_found) == 404);
  CHECK(http_status(error_code::method_not_allowed) == 405);
  CHECK(http_status(error_code::msg_too_long) == 413);
  CHECK(http_status(error_code::rate_limited) == 429);
  CHECK(http_status(error_code::unavailable) == 503);
}

TEST_CASE("presence statuses round-trip through their wire spelling", "[protocol][presence]") {
  for (auto s : {presence_status::online, presence_status::away, presence_status::offline})
    CHECK(parse_presence_status(to_string(s)) == s);
  CHECK(to_string(presence_status::away) == "away");
  CHECK_FALSE(parse_presence_status("Online"));
  CHECK_FALSE(parse_presence_status(""));
  CHECK_FALSE(parse_presence_status("busy"));
}

TEST_CASE("presence subscription frames: an update without channel_id and presence.users",
          "[protocol][server_frame]") {
  CHECK(encode_presence_update(user_id{7}, presence_status::away)
        == R"({"type":"presence.update","user_id":"U7","status":"away"})");
  CHECK(encode_presence_users({{user_id{2}, presence_status::offline},
                               {user_id{7}, presence_status::online}})
        == R"({"type":"presence.users","users":[{"user_id":"U2","status":"offline"},)"
           R"({"user_id":"U7","status":"online"}]})");
  CHECK(encode_presence_users({}) == R"({"type":"presence.users","users":[]})");
}
