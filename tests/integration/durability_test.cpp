// Acked messages survive kill -9 (docs/protocol.md "Rules": durability; "Ordering").

#include <chrono>
#include <map>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

TEST_CASE("every acked message survives kill -9 with its seq and seqs continue after restart",
          "[integration][ws][durability]") {
  node_process node;
  // 40 senders x 5 messages stay inside the default per-user burst of 5.
  auto senders = user_range(1, 40);
  auto members = senders;
  members.push_back("U41");
  auto channel = node.create_channel("W1", "durable", members);

  std::map<std::string, json> acked; // client_msg_id -> ack
  {
    std::vector<session> sessions;
    for (const auto& u : senders)
      sessions.push_back(open_session(node, u));
    for (size_t i = 0; i < sessions.size(); ++i)
      for (int k = 0; k < 5; ++k)
        sessions[i].ws.send_json(send_frame(channel, senders[i] + " #" + std::to_string(k),
                                            "dur-" + senders[i] + "-" + std::to_string(k)));
    for (auto& s : sessions) {
      for (int k = 0; k < 5; ++k) {
        auto ack = expect_frame(s.ws, "message.ack", 10s);
        acked[ack.value("client_msg_id", "")] = ack;
      }
    }
    node.kill9();
    for (auto& s : sessions)
      s.ws.abort();
  }
  REQUIRE(acked.size() == 200);

  node.restart();
  auto history = node.history(channel, node_process::token("U41"));
  std::map<std::string, json> stored;
  uint64_t highest = 0;
  uint64_t previous = 0;
  for (const auto& m : history) {
    auto seq = m.value("channel_seq", uint64_t{0});
    CHECK(seq > previous); // ascending, never reused
    previous = seq;
    highest = std::max(highest, seq);
    stored[m.value("client_msg_id", "")] = m;
  }
  for (const auto& [id, ack] : acked) {
    INFO("acked " << ack.dump());
    REQUIRE(stored.count(id) == 1);
    CHECK(stored[id]["channel_seq"] == ack["channel_seq"]);
    CHECK(stored[id]["ts"] == ack["ts"]);
  }
  CHECK(highest == 200);

  auto res = node.http("POST", "/v1/channels/" + channel + "/messages",
                       json{{"text", "after the crash"}, {"client_msg_id", "dur-after"}}.dump(),
                       node_process::token("U41"));
  INFO(res.body);
  REQUIRE(res.status == 200);
  CHECK(parse_body(res).value("channel_seq", uint64_t{0}) == highest + 1);

  // A retry of a message acked before the crash still gets its original ack.
  auto retry = node.http("POST", "/v1/channels/" + channel + "/messages",
                         json{{"text", "U1 #0"}, {"client_msg_id", "dur-U1-0"}}.dump(),
                         node_process::token("U1"));
  REQUIRE(retry.status == 200);
  CHECK(parse_body(retry)["channel_seq"] == acked["dur-U1-0"]["channel_seq"]);
}
