// Deterministic simulation of the session rules and presence (docs/protocol.md "Rules": session,
// presence): hello, timeouts on simulated time, presence.update transitions.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "protocol/clock.hpp"
#include "tests/support/actor_fixture.hpp"

namespace parley::test {
namespace {

const workspace_id ws{1};
const user_id u1{1}, u2{2};

bool is_presence(const json& f, user_id user, channel_id ch, const std::string& status) {
  return f.at("type") == "presence.update" && f.at("user_id") == user.str()
         && f.at("channel_id") == ch.str() && f.at("status") == status;
}

std::vector<json> presence_updates(const std::vector<json>& frames) {
  return filter(frames, "presence.update");
}

} // namespace

TEST_CASE("presence.update follows hello, away, idle close and socket close",
          "[actors][presence]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  const auto& limits = fx.node.env.limits;
  REQUIRE(limits.idle_timeout == std::chrono::seconds(30));

  // A's own hello makes A online: its connection gets the update too, after hello_ack.
  auto a = fx.join(principal{ws, u1});
  auto frames = a.sink->take_new();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(frames[0].at("user_id") == u1.str());
  CHECK(frames[0].at("channels").at(ch.str()) == 0);
  CHECK(is_presence(frames[1], u1, ch, "online"));

  // B's hello: A sees B online; B's own connection gets it after its hello_ack.
  auto b = fx.join(principal{ws, u2});
  frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(is_presence(frames[0], u2, ch, "online"));
  frames = b.sink->take_new();
  REQUIRE(frames.size() == 2);
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(is_presence(frames[1], u2, ch, "online"));

  // presence.get lists both.
  fx.inject(a, json{{"type", "presence.get"}, {"channel_id", ch.str()}});
  fx.run();
  frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].at("type") == "presence.state");
  CHECK(frames[0].at("users")
        == json::array({{{"user_id", u1.str()}, {"status", "online"}},
                        {{"user_id", u2.str()}, {"status", "online"}}}));

  // B sets away: one update to every online member, B's own connection included.
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(is_presence(frames[0], u2, ch, "away"));
  frames = b.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(is_presence(frames[0], u2, ch, "away"));
  // Setting the same status again is no transition.
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  CHECK(a.sink->take_new().empty());

  // A stays active; B falls silent for the idle timeout.
  fx.advance(std::chrono::seconds(20));
  fx.inject(a, ping_frame(1));
  fx.run();
  CHECK(filter(a.sink->take_new(), "pong").size() == 1);
  CHECK(b.sink->closes().empty());
  fx.advance(std::chrono::seconds(11));
  auto closes = b.sink->closes();
  REQUIRE(closes.size() == 1);
  CHECK(closes[0].code == 1001);
  CHECK(a.sink->closes().empty());
  // Offline comes with the socket's close, not with the close request.
  CHECK(presence_updates(a.sink->take_new()).empty());

  fx.socket_closed(b);
  frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(is_presence(frames[0], u2, ch, "offline"));

  fx.inject(a, json{{"type", "presence.get"}, {"channel_id", ch.str()}});
  fx.run();
  frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].at("users") == json::array({{{"user_id", u1.str()}, {"status", "online"}}}));
}

TEST_CASE("a user with two connections goes offline only when the last one closes",
          "[actors][presence]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  a.sink->take_new();
  auto b1 = fx.join(principal{ws, u2});
  auto b2 = fx.join(principal{ws, u2});
  auto frames = a.sink->take_new();
  // The second connection of an online user is no transition.
  REQUIRE(presence_updates(frames).size() == 1);
  CHECK(is_presence(frames.back(), u2, ch, "online"));
  CHECK(presence_updates(b2.sink->take_new()).empty());

  fx.socket_closed(b1);
  CHECK(a.sink->take_new().empty());
  fx.socket_closed(b2);
  frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(is_presence(frames[0], u2, ch, "offline"));
}

TEST_CASE("in a channel above the coalescing threshold presence.update comes at most once a "
          "second per user, the latest state winning",
          "[actors][presence]") {
  test_db db;
  auto ch = db.create_channel(ws, "big", {u1, u2});
  auto limits = test_limits();
  limits.presence_coalesce_members = 1;
  actor_fixture fx{db, limits};
  auto a = fx.join(principal{ws, u1});
  a.sink->take_new();
  fx.advance(std::chrono::seconds(1));
  a.sink->take_new();

  // B comes online, goes away and comes back within the second: one update, the last state.
  auto b = fx.join(principal{ws, u2});
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  fx.inject(b, presence_set_frame("online"));
  fx.run();
  CHECK(presence_updates(a.sink->take_new()).empty());
  fx.advance(std::chrono::seconds(1));
  auto frames = presence_updates(a.sink->take_new());
  REQUIRE(frames.size() == 1);
  CHECK(is_presence(frames[0], u2, ch, "online"));
}

TEST_CASE("in a channel above the push threshold presence is pull-only: no presence.update, "
          "presence.get still answers",
          "[actors][presence]") {
  test_db db;
  auto ch = db.create_channel(ws, "huge", {u1, u2});
  auto limits = test_limits();
  limits.presence_push_members = 1;
  actor_fixture fx{db, limits};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  fx.advance(std::chrono::seconds(2));
  CHECK(presence_updates(a.sink->take_new()).empty());
  CHECK(presence_updates(b.sink->take_new()).empty());

  fx.inject(a, json{{"type", "presence.get"}, {"channel_id", ch.str()}});
  fx.run();
  auto frames = a.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].at("users")
        == json::array({{{"user_id", u1.str()}, {"status", "online"}},
                        {{"user_id", u2.str()}, {"status", "away"}}}));
}

TEST_CASE("a connection without hello within the hello timeout is closed with 1008",
          "[actors][connection]") {
  test_db db;
  db.create_channel(ws, "general", {u1});
  actor_fixture fx{db};
  auto c = fx.connect(principal{ws, u1});
  fx.advance(fx.node.env.limits.hello_timeout - std::chrono::milliseconds(1));
  CHECK(c.sink->closes().empty());
  fx.advance(std::chrono::milliseconds(1));
  auto closes = c.sink->closes();
  REQUIRE(closes.size() == 1);
  CHECK(closes[0].code == 1008);
  CHECK(c.sink->frames().empty());
  fx.socket_closed(c);
}

TEST_CASE("a hello in time cancels the hello timeout", "[actors][connection]") {
  test_db db;
  db.create_channel(ws, "general", {u1});
  actor_fixture fx{db};
  auto c = fx.connect(principal{ws, u1});
  fx.advance(std::chrono::seconds(9));
  fx.hello(c);
  fx.advance(std::chrono::seconds(5));
  CHECK(c.sink->closes().empty());
  CHECK(c.sink->of_type("hello_ack").size() == 1);
}

TEST_CASE("before hello a ping gets a pong and any other frame bad_request without a close",
          "[actors][connection]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1});
  actor_fixture fx{db};
  auto c = fx.connect(principal{ws, u1});

  fx.inject(c, ping_frame(123));
  fx.run();
  auto frames = c.sink->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0] == json({{"type", "pong"}, {"ts", 123}}));

  fx.inject(c, send_frame(ch, "too early", "e1"));
  fx.inject(c, backfill_frame(ch, 0, 10));
  fx.inject(c, std::string{"this is not json"});
  fx.run();
  frames = c.sink->take_new();
  REQUIRE(frames.size() == 3);
  for (auto& f : frames) {
    CHECK(f.at("type") == "error");
    CHECK(f.at("code") == "bad_request");
  }
  CHECK(frames[0].at("ref_id") == "e1");
  CHECK(frames[1].at("ref_id").is_null());
  CHECK(c.sink->closes().empty());
  CHECK(db.messages(ws, ch).empty());

  // The session is still usable: hello works, a second hello does not.
  fx.hello(c);
  fx.hello(c);
  frames = c.sink->take_new();
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(frames.back().at("type") == "error");
  CHECK(frames.back().at("code") == "bad_request");
  CHECK(c.sink->closes().empty());
}

TEST_CASE("frames pipelined behind hello are answered after hello_ack", "[actors][connection]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1});
  actor_fixture fx{db};
  auto c = fx.connect(principal{ws, u1});
  fx.inject(c, json{{"type", "hello"}, {"last_seq_map", json::object()}});
  fx.inject(c, send_frame(ch, "right behind hello", "p1"));
  fx.inject(c, ping_frame(7));
  fx.run();
  auto frames = c.sink->frames();
  REQUIRE(frames.size() >= 4);
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(filter(frames, "message.ack").size() == 1);
  CHECK(filter(frames, "pong").size() == 1);
  CHECK(filter(frames, "error").empty());
}

} // namespace parley::test

namespace parley::test {

TEST_CASE("a token that expires mid-session closes the connection with 4001 at exp + leeway",
          "[actors][connection]") {
  test_db db;
  db.create_channel(workspace_id{1}, "general", {user_id{1}});
  actor_fixture fx{db};
  // The token expired 25 s ago: with the 30 s leeway about 5 s remain (the actor reads the
  // wall clock for exp, so allow one second of slack either way).
  auto exp_s = now_us() / 1'000'000 - 25;
  auto c = fx.connect(principal{workspace_id{1}, user_id{1}}, nullptr, exp_s);
  fx.hello(c);
  fx.advance(std::chrono::seconds(3));
  CHECK(c.sink->closes().empty());
  fx.advance(std::chrono::seconds(3));
  auto closes = c.sink->closes();
  REQUIRE(closes.size() == 1);
  CHECK(closes[0].code == 4001);
  fx.socket_closed(c);
}

} // namespace parley::test
