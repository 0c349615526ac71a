// Error paths of the WebSocket protocol and of the upgrade (docs/protocol.md "Rules", "Edge
// rules").

#include <chrono>

#include <catch2/catch.hpp>

#include "protocol/jwt.hpp"
#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// Sends `frame` and REQUIREs an error frame with `code` in reply.
json send_expect_error(parley::client::ws_client& ws, const json& frame, const std::string& code) {
  INFO("sent " << frame.dump().substr(0, 200));
  ws.send_json(frame);
  return expect_error(ws, code);
}

json send_raw_expect_error(parley::client::ws_client& ws, const std::string& text,
                           const std::string& code) {
  INFO("sent raw " << text.substr(0, 200));
  ws.send_text(text);
  return expect_error(ws, code);
}

int upgrade_status(const node_process& node, const std::string& target,
                   const parley::client::ws_client::headers& headers = {}) {
  parley::client::ws_client ws;
  auto up = ws.connect(node.base_url(), target, headers);
  INFO(target << " -> " << up.status << " " << up.body);
  return up.status;
}

std::string token_with(const std::string& user, const std::string& workspace, int64_t exp_offset,
                       const std::string& secret) {
  parley::jwt_claims claims;
  claims.user = *parley::user_id::parse(user);
  claims.workspace = *parley::workspace_id::parse(workspace);
  claims.exp = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() +
               exp_offset;
  return parley::jwt_sign(claims, secret);
}

} // namespace

TEST_CASE("bad frames get error frames and the session stays open",
          "[integration][ws][errors]") {
  node_process node;
  auto mine = node.create_channel("W1", "mine", {"U1", "U2"});
  auto theirs = node.create_channel("W1", "theirs", {"U2", "U3"});
  auto ws = open_socket(node, "U1");

  // Before hello: a ping is answered, anything else is bad_request and the connection stays.
  ws.send_json({{"type", "ping"}, {"ts", 123}});
  auto pong = expect_frame(ws, "pong");
  CHECK(pong["ts"] == 123);
  send_expect_error(ws, send_frame(mine, "too early", "early-1"), "bad_request");
  REQUIRE(ws.is_open());

  ws.send_json({{"type", "hello"}, {"last_seq_map", json::object()}});
  auto ack = expect_frame(ws, "hello_ack");
  CHECK(ack["channels"].contains(mine));
  CHECK_FALSE(ack["channels"].contains(theirs));
  CHECK(ack.value("user_id", "") == "U1");
  CHECK(ack["session_id"].is_string());

  send_expect_error(ws, {{"type", "hello"}, {"last_seq_map", json::object()}}, "bad_request");

  // Frame shape.
  send_raw_expect_error(ws, "{not json", "bad_request");
  send_raw_expect_error(ws, "[1,2,3]", "bad_request");
  send_expect_error(ws, {{"type", "no.such.type"}}, "bad_request");
  send_expect_error(ws, {{"type", "message.send"}, {"channel_id", mine}, {"client_msg_id", "x1"}},
                    "bad_request");
  send_expect_error(ws, send_frame("C01", "hi", "x2"), "bad_request");
  send_expect_error(ws, send_frame("Cabc", "hi", "x3"), "bad_request");
  send_expect_error(ws, send_frame(mine, "hi", "has space"), "bad_request");
  send_expect_error(ws, send_frame(mine, "hi", std::string(65, 'a')), "bad_request");
  send_expect_error(ws, send_frame(mine, "", "empty-1"), "bad_request");
  send_expect_error(ws, {{"type", "backfill"}, {"channel_id", mine}, {"limit", "ten"}},
                    "bad_request");
  send_expect_error(ws, {{"type", "backfill"}, {"channel_id", mine}, {"after_seq", -1}},
                    "bad_request");

  // Size: 4,000 UTF-8 bytes is the limit, counted in bytes.
  auto too_long = send_expect_error(ws, send_frame(mine, std::string(4001, 'x'), "long-1"),
                                    "msg_too_long");
  CHECK(too_long["ref_id"] == "long-1");
  std::string e_acute = "\xC3\xA9";
  std::string wide;
  for (int i = 0; i < 2001; ++i)
    wide += e_acute; // 2,001 characters, 4,002 bytes
  send_expect_error(ws, send_frame(mine, wide, "long-2"), "msg_too_long");

  // Membership: an unknown channel and a channel of others look the same.
  auto unknown = send_expect_error(ws, send_frame("C999999", "hi", "nic-1"), "not_in_channel");
  CHECK(unknown["ref_id"] == "nic-1");
  auto other = send_expect_error(ws, send_frame(theirs, "hi", "nic-2"), "not_in_channel");
  CHECK(other["ref_id"] == "nic-2");
  auto bf = send_expect_error(ws, {{"type", "backfill"}, {"channel_id", theirs}}, "not_in_channel");
  CHECK(bf.value("channel_id", "") == theirs);
  send_expect_error(ws, {{"type", "presence.get"}, {"channel_id", theirs}}, "not_in_channel");

  // Rate limit: burst of 5 per user per channel; refused sends above consumed no tokens.
  std::vector<std::string> texts = {"one", "two", "three", std::string(4000, 'x'), wide.substr(2)};
  std::vector<json> acks;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto id = "rl-" + std::to_string(i);
    ws.send_json(send_frame(mine, texts[i], id));
    auto a = expect_frame(ws, "message.ack");
    REQUIRE(a.value("client_msg_id", "") == id);
    REQUIRE(a.value("channel_seq", uint64_t{0}) == i + 1);
    acks.push_back(a);
  }
  auto limited = send_expect_error(ws, send_frame(mine, "six", "rl-5"), "rate_limited");
  CHECK(limited["ref_id"] == "rl-5");
  // Dedup comes before the rate limit: a retry of an acked message still gets its ack.
  ws.send_json(send_frame(mine, "one", "rl-0"));
  auto retry = expect_frame(ws, "message.ack");
  CHECK(retry.value("channel_seq", uint64_t{0}) == 1);
  CHECK(retry["ts"] == acks[0]["ts"]);

  ws.send_json({{"type", "ping"}, {"ts", 456}});
  CHECK(expect_frame(ws, "pong")["ts"] == 456);
  REQUIRE(ws.is_open());
}

TEST_CASE("binary and oversized frames close the connection with 1003 and 1009",
          "[integration][ws][errors]") {
  node_process node;
  {
    auto s = open_session(node, "U1");
    s.ws.send_binary(std::string("\x01\x02\x03", 3));
    REQUIRE(s.ws.wait_closed(5s));
    CHECK(s.ws.close_code() == 1003);
  }
  {
    auto s = open_session(node, "U1");
    json big = send_frame("C1", std::string(70 * 1024, 'x'), "big-1");
    try {
      s.ws.send_json(big);
    } catch (const parley::client::transport_error&) {
      // The server may close before the whole message is written; the close code still counts.
    }
    REQUIRE(s.ws.wait_closed(5s));
    INFO("ended without close frame: " << s.ws.failure());
    CHECK(s.ws.close_code() == 1009);
  }
}

TEST_CASE("a refused upgrade answers 400 or 401 and never 101", "[integration][ws][upgrade]") {
  node_process node;
  auto good = node_process::token("U1", "W1");

  CHECK(upgrade_status(node, "/v1/ws?token=" + good) == 400);
  CHECK(upgrade_status(node, "/v1/ws?token=" + good + "&workspace_id=") == 400);
  CHECK(upgrade_status(node, "/v1/ws?token=" + good + "&workspace_id=W01") == 400);
  CHECK(upgrade_status(node, "/v1/ws?token=" + good + "&workspace_id=X1") == 400);
  CHECK(upgrade_status(node, "/v1/ws?token=" + good + "&workspace_id=W") == 400);
  // workspace_id is checked before the token.
  CHECK(upgrade_status(node, "/v1/ws?token=garbage&workspace_id=Wx") == 400);

  CHECK(upgrade_status(node, "/v1/ws?workspace_id=W1") == 401);
  CHECK(upgrade_status(node, "/v1/ws?token=garbage&workspace_id=W1") == 401);
  CHECK(upgrade_status(node, ws_target(token_with("U1", "W1", 3600, "wrong-secret"))) == 401);
  CHECK(upgrade_status(node, ws_target(token_with("U1", "W1", -120, test_jwt_secret))) == 401);
  CHECK(upgrade_status(node, ws_target(node_process::token("U1", "W2"), "W1")) == 401);

  // Inside the 30 s leeway an expired token is still accepted.
  CHECK(upgrade_status(node, ws_target(token_with("U1", "W1", -5, test_jwt_secret))) == 101);
  // The token may come in the Authorization header; the query wins over it.
  CHECK(upgrade_status(node, "/v1/ws?workspace_id=W1", {{"Authorization", "Bearer " + good}}) ==
        101);
  CHECK(upgrade_status(node, ws_target(good), {{"Authorization", "Bearer garbage"}}) == 101);
  CHECK(upgrade_status(node, "/v1/ws?token=garbage&workspace_id=W1",
                       {{"Authorization", "Bearer " + good}}) == 401);
}
