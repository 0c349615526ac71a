// Presence transitions between two real sessions (docs/protocol.md "Rules": presence).

#include <chrono>
#include <map>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

json expect_presence(parley::client::ws_client& ws, const std::string& user,
                     const std::string& status, std::chrono::milliseconds timeout) {
  try {
    return ws
        .read_until(
            [&](const json& f) {
              return f.value("type", "") == "presence.update" && f.value("user_id", "") == user &&
                     f.value("status", "") == status;
            },
            timeout)
        .back();
  } catch (const parley::client::transport_error& e) {
    FAIL("expected presence.update " << user << " " << status << ": " << e.what());
  }
  return json();
}

std::map<std::string, std::string> users_of(const json& state) {
  std::map<std::string, std::string> out;
  for (const auto& u : state["users"])
    out[u.value("user_id", "")] = u.value("status", "");
  return out;
}

} // namespace

TEST_CASE("members see each other come online, go away and go offline",
          "[integration][ws][presence]") {
  node_process node;
  auto channel = node.create_channel("W1", "presence", {"U1", "U2"});
  auto a = open_session(node, "U1");
  // The connection whose hello made the user online gets its own update too.
  auto own = expect_presence(a.ws, "U1", "online", 3s);
  CHECK(own.value("channel_id", "") == channel);

  auto b = open_session(node, "U2");
  auto online = expect_presence(a.ws, "U2", "online", 3s);
  CHECK(online.value("channel_id", "") == channel);

  a.ws.send_json({{"type", "presence.get"}, {"channel_id", channel}});
  auto state = expect_frame(a.ws, "presence.state", 3s, channel);
  auto users = users_of(state);
  CHECK(users["U1"] == "online");
  CHECK(users["U2"] == "online");

  b.ws.send_json({{"type", "presence.set"}, {"status", "away"}});
  expect_presence(a.ws, "U2", "away", 3s);
  b.ws.send_json({{"type", "presence.set"}, {"status", "online"}});
  expect_presence(a.ws, "U2", "online", 3s);

  auto rest = node.http("GET", "/v1/channels/" + channel + "/presence", "",
                        node_process::token("U1"));
  REQUIRE(rest.status == 200);
  CHECK(users_of(parse_body(rest))["U2"] == "online");

  b.ws.close();
  expect_presence(a.ws, "U2", "offline", 3s);
  a.ws.send_json({{"type", "presence.get"}, {"channel_id", channel}});
  auto after = users_of(expect_frame(a.ws, "presence.state", 3s, channel));
  CHECK(after.count("U2") == 0);
  CHECK(after["U1"] == "online");
}
