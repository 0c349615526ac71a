// REST on the node's listener: send, history, DMs, admin calls and workspace isolation.

#include <chrono>
#include <map>

#include <catch2/catch.hpp>

#include "protocol/ids.hpp"
#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

parley::client::http_response post_message(const node_process& node, const std::string& channel,
                                           const json& body, const std::string& token) {
  return node.http("POST", "/v1/channels/" + channel + "/messages", body.dump(), token);
}

/// REQUIREs `status` and, for errors, the JSON body {code, message} with `code`.
json expect_status(const parley::client::http_response& res, int status,
                   const std::string& code = "") {
  INFO("HTTP " << res.status << " " << res.body.substr(0, 300));
  REQUIRE(res.status == status);
  if (code.empty())
    return res.body.empty() ? json() : parse_body(res);
  auto body = parse_body(res);
  REQUIRE(body.value("code", "") == code);
  REQUIRE(body["message"].is_string());
  return body;
}

} // namespace

TEST_CASE("REST send acks with the seq and history pages through the channel",
          "[integration][rest]") {
  node_process node;
  auto channel = node.create_channel("W1", "rest", {"U1", "U2"});
  auto u1 = node_process::token("U1");

  std::vector<json> acks;
  for (int i = 1; i <= 3; ++i) {
    auto id = "rest-" + std::to_string(i);
    auto ack = expect_status(post_message(node, channel,
                                          {{"text", "hello " + std::to_string(i)},
                                           {"client_msg_id", id}},
                                          u1),
                             200);
    CHECK(ack.value("client_msg_id", "") == id);
    CHECK(ack.value("channel_id", "") == channel);
    CHECK(ack.value("channel_seq", uint64_t{0}) == static_cast<uint64_t>(i));
    CHECK(ack["ts"].is_number_integer());
    acks.push_back(ack);
  }
  CHECK(acks[0]["ts"].get<int64_t>() <= acks[2]["ts"].get<int64_t>());

  auto u2 = node_process::token("U2");
  auto page1 = expect_status(
      node.http("GET", "/v1/channels/" + channel + "/messages?after_seq=0&limit=2", "", u2), 200);
  CHECK(page1.value("channel_id", "") == channel);
  REQUIRE(page1["messages"].size() == 2);
  CHECK(page1["has_more"] == true);
  const auto& m1 = page1["messages"][0];
  CHECK(m1.value("channel_seq", uint64_t{0}) == 1);
  CHECK(m1.value("user_id", "") == "U1");
  CHECK(m1.value("text", "") == "hello 1");
  CHECK(m1.value("client_msg_id", "") == "rest-1");
  CHECK(m1["ts"] == acks[0]["ts"]);
  CHECK(m1.value("channel_id", "") == channel);

  auto page2 = expect_status(
      node.http("GET", "/v1/channels/" + channel + "/messages?after_seq=2&limit=2", "", u2), 200);
  REQUIRE(page2["messages"].size() == 1);
  CHECK(page2["messages"][0].value("channel_seq", uint64_t{0}) == 3);
  CHECK(page2["has_more"] == false);

  // Defaults and clamping: no parameters = after 0, up to 100.
  auto all = expect_status(node.http("GET", "/v1/channels/" + channel + "/messages", "", u2), 200);
  CHECK(all["messages"].size() == 3);
  auto clamped = expect_status(
      node.http("GET", "/v1/channels/" + channel + "/messages?after_seq=0&limit=1000", "", u2),
      200);
  CHECK(clamped["messages"].size() == 3);
}

TEST_CASE("REST errors are JSON with the documented status and code", "[integration][rest]") {
  node_process node;
  auto channel = node.create_channel("W1", "rest-errors", {"U1", "U2"});
  auto u1 = node_process::token("U1");
  auto target = "/v1/channels/" + channel + "/messages";
  json ok_body = {{"text", "hi"}, {"client_msg_id", "e-1"}};

  // 401: no token, a bad token, an admin token where a user token belongs.
  expect_status(post_message(node, channel, ok_body, ""), 401, "unauthorized");
  expect_status(post_message(node, channel, ok_body, "garbage"), 401, "unauthorized");
  expect_status(node.http("GET", target, "", ""), 401, "unauthorized");
  expect_status(post_message(node, channel, ok_body, test_admin_token), 401, "unauthorized");
  // ... and a user token where the admin token belongs.
  expect_status(node.http("POST", "/v1/channels",
                          json{{"workspace_id", "W1"}, {"name", "x"}, {"members", {"U1"}}}.dump(),
                          u1),
                401, "unauthorized");

  // 400: shape.
  expect_status(node.http("POST", target, "{not json", u1), 400, "bad_request");
  expect_status(post_message(node, channel, {{"text", ""}, {"client_msg_id", "e-2"}}, u1), 400,
                "bad_request");
  expect_status(post_message(node, channel, {{"text", "hi"}, {"client_msg_id", "bad id"}}, u1),
                400, "bad_request");
  expect_status(post_message(node, channel, {{"text", "hi"}}, u1), 400, "bad_request");
  expect_status(node.http("GET", target + "?after_seq=-1", "", u1), 400, "bad_request");
  expect_status(node.http("GET", target + "?limit=ten", "", u1), 400, "bad_request");

  // 413: over 4,000 bytes.
  expect_status(post_message(node, channel,
                             {{"text", std::string(4001, 'x')}, {"client_msg_id", "e-3"}}, u1),
                413, "msg_too_long");

  // 403: a non-member, and (member check first) a well-formed unknown channel.
  auto u3 = node_process::token("U3");
  expect_status(post_message(node, channel, ok_body, u3), 403, "not_in_channel");
  expect_status(node.http("GET", target, "", u3), 403, "not_in_channel");
  expect_status(node.http("GET", "/v1/channels/" + channel + "/presence", "", u3), 403,
                "not_in_channel");
  expect_status(post_message(node, "C999999", ok_body, u1), 403, "not_in_channel");

  // 405: a known path with a method it does not answer, with the methods it does.
  auto wrong = node.http("DELETE", target, "", u1);
  expect_status(wrong, 405, "method_not_allowed");
  CHECK(wrong.headers["allow"] == "GET, POST");
  auto dms = node.http("GET", "/v1/dms", "", u1);
  expect_status(dms, 405, "method_not_allowed");
  CHECK(dms.headers["allow"] == "POST");

  // 404: removing a non-member (admin).
  expect_status(node.http("DELETE", "/v1/channels/" + channel + "/members/U99", "",
                          test_admin_token),
                404, "not_found");

  // 429: the sixth send inside the burst.
  auto u2 = node_process::token("U2");
  for (int i = 0; i < 5; ++i)
    expect_status(post_message(node, channel,
                               {{"text", "burst"}, {"client_msg_id", "b-" + std::to_string(i)}},
                               u2),
                  200);
  expect_status(post_message(node, channel, {{"text", "burst"}, {"client_msg_id", "b-5"}}, u2),
                429, "rate_limited");
  // A retry of an acked message is never rate limited.
  auto retry = expect_status(
      post_message(node, channel, {{"text", "burst"}, {"client_msg_id", "b-0"}}, u2), 200);
  CHECK(retry.value("channel_seq", uint64_t{0}) == 1);

  // Admin membership changes: adding twice is a no-op, removing a member is 204.
  node.add_members(channel, {"U3"});
  node.add_members(channel, {"U3"});
  expect_status(post_message(node, channel, {{"text", "now in"}, {"client_msg_id", "u3-1"}}, u3),
                200);
  expect_status(node.http("DELETE", "/v1/channels/" + channel + "/members/U3", "",
                          test_admin_token),
                204);
  expect_status(post_message(node, channel, {{"text", "out"}, {"client_msg_id", "u3-2"}}, u3),
                403, "not_in_channel");
}

TEST_CASE("creating a DM is idempotent for the unordered pair and limited to the pair",
          "[integration][rest][dm]") {
  node_process node;
  auto u1 = node_process::token("U1");
  auto u2 = node_process::token("U2");
  auto first = expect_status(
      node.http("POST", "/v1/dms", json{{"user_ids", {"U1", "U2"}}}.dump(), u1), 200);
  auto dm = first.value("channel_id", "");
  REQUIRE(parley::channel_id::parse(dm));
  auto again = expect_status(
      node.http("POST", "/v1/dms", json{{"user_ids", {"U2", "U1"}}}.dump(), u2), 200);
  CHECK(again.value("channel_id", "") == dm);
  auto third = expect_status(
      node.http("POST", "/v1/dms", json{{"user_ids", {"U1", "U2"}}}.dump(), u1), 200);
  CHECK(third.value("channel_id", "") == dm);

  expect_status(node.http("POST", "/v1/dms", json{{"user_ids", {"U1", "U2"}}}.dump(),
                          node_process::token("U3")),
                403, "not_in_channel");
  expect_status(node.http("POST", "/v1/dms", json{{"user_ids", {"U1", "U1"}}}.dump(), u1), 400,
                "bad_request");

  // Both ends can use it.
  auto b = open_session(node, "U2");
  CHECK(b.hello_ack["channels"].contains(dm));
  expect_status(node.http("POST", "/v1/channels/" + dm + "/messages",
                          json{{"text", "psst"}, {"client_msg_id", "dm-1"}}.dump(), u1),
                200);
  auto m = expect_frame(b.ws, "message.new", 5s, dm);
  CHECK(m.value("text", "") == "psst");
  CHECK(m.value("user_id", "") == "U1");
}

TEST_CASE("a user of another workspace can neither read nor send to a channel",
          "[integration][rest][ws][isolation]") {
  node_process node;
  auto w1_channel = node.create_channel("W1", "w1-only", {"U1"});
  auto w2_channel = node.create_channel("W2", "w2-only", {"U1"});
  REQUIRE(w1_channel != w2_channel);
  // U1 of W2 is a different person from U1 of W1.
  auto w2_u1 = node_process::token("U1", "W2");

  expect_status(node.http("GET", "/v1/channels/" + w1_channel + "/messages", "", w2_u1), 403,
                "not_in_channel");
  expect_status(node.http("POST", "/v1/channels/" + w1_channel + "/messages",
                          json{{"text", "hi"}, {"client_msg_id", "x-1"}}.dump(), w2_u1),
                403, "not_in_channel");

  auto s = open_session(node, "U1", "W2", {{w1_channel, 0}});
  CHECK_FALSE(s.hello_ack["channels"].contains(w1_channel));
  CHECK(s.hello_ack["channels"].contains(w2_channel));
  s.ws.send_json(send_frame(w1_channel, "hi", "x-2"));
  CHECK(expect_error(s.ws, "not_in_channel")["ref_id"] == "x-2");
  s.ws.send_json({{"type", "backfill"}, {"channel_id", w1_channel}});
  expect_error(s.ws, "not_in_channel");

  auto w1 = open_session(node, "U1", "W1");
  CHECK(w1.hello_ack["channels"].contains(w1_channel));
  CHECK_FALSE(w1.hello_ack["channels"].contains(w2_channel));
}

TEST_CASE("GET /v1/channels lists the caller's channels of its workspace with names",
          "[integration][rest][channels]") {
  node_process node;
  auto general = node.create_channel("W1", "general", {"U1", "U2"});
  auto others = node.create_channel("W1", "others-only", {"U2"});
  auto w2 = node.create_channel("W2", "w2-general", {"U1"});
  auto u1 = node_process::token("U1");
  expect_status(post_message(node, general, {{"text", "hi"}, {"client_msg_id", "l-1"}}, u1), 200);
  expect_status(post_message(node, general, {{"text", "again"}, {"client_msg_id", "l-2"}}, u1),
                200);
  auto dm = expect_status(
      node.http("POST", "/v1/dms", json{{"user_ids", {"U1", "U3"}}}.dump(), u1), 200)
                .value("channel_id", "");

  auto list = expect_status(node.http("GET", "/v1/channels", "", u1), 200);
  REQUIRE(list["channels"].is_array());
  std::map<std::string, json> by_id;
  for (auto& c : list["channels"])
    by_id[c.value("channel_id", "")] = c;
  // Only U1's channels of W1: not U2's, not the W2 channel of another user U1.
  CHECK(by_id.size() == 2);
  CHECK_FALSE(by_id.count(others));
  CHECK_FALSE(by_id.count(w2));
  REQUIRE(by_id.count(general));
  CHECK(by_id[general].value("name", "") == "general");
  CHECK(by_id[general].value("latest_seq", uint64_t{0}) == 2);
  CHECK_FALSE(by_id[general].contains("members"));
  REQUIRE(by_id.count(dm));
  CHECK(by_id[dm].value("name", "?").empty());
  CHECK(by_id[dm].value("latest_seq", uint64_t{9}) == 0);
  CHECK(by_id[dm]["members"] == json::array({"U1", "U3"}));

  // The same user id in W2 is another person with its own channels.
  auto w2_u1 = node_process::token("U1", "W2");
  auto w2_list = expect_status(node.http("GET", "/v1/channels", "", w2_u1), 200);
  REQUIRE(w2_list["channels"].size() == 1);
  CHECK(w2_list["channels"][0].value("channel_id", "") == w2);
  CHECK(w2_list["channels"][0].value("name", "") == "w2-general");

  expect_status(node.http("GET", "/v1/channels", "", ""), 401, "unauthorized");
  expect_status(node.http("GET", "/v1/channels", "", "garbage"), 401, "unauthorized");
  expect_status(node.http("GET", "/v1/channels", "", test_admin_token), 401, "unauthorized");
}
