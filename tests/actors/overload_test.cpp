#include <catch2/catch.hpp>

#include "tests/support/actor_fixture.hpp"

using namespace parley;
using namespace parley::test;

TEST_CASE("under overload large channels switch to cursor mode while DMs keep real-time push",
          "[actors][overload]") {
  test_db db;
  auto limits = test_limits();
  limits.user_burst = 100;
  limits.overload_backlog = 1000;
  limits.overload_cursor_members = 10;
  workspace_id w{1};
  std::vector<user_id> many;
  for (uint64_t u = 1; u <= 20; ++u)
    many.push_back(user_id{u});
  auto big = db.create_channel(w, "big", many);
  auto dm = db.create_channel(w, "dm", {user_id{1}, user_id{2}});
  actor_fixture f{db, limits};
  auto a = f.join(principal{w, user_id{1}});
  auto b = f.join(principal{w, user_id{2}});
  b.sink->take_new();

  SECTION("without overload both get message.new") {
    f.inject(a, test::send_frame(big, "hello big", "m1"));
    f.inject(a, test::send_frame(dm, "hello dm", "m2"));
    f.run();
    auto got = b.sink->take_new();
    CHECK(filter(got, "message.new").size() == 2);
    CHECK(filter(got, "channel.cursor").empty());
  }

  SECTION("with the gateway backlogged the big channel sends channel.cursor, the DM message.new") {
    f.node.env.counters->gateway_backlog = 5000; // as sampled by the gateway under load
    f.inject(a, test::send_frame(big, "hello big", "m1"));
    f.inject(a, test::send_frame(dm, "hello dm", "m2"));
    f.run();
    f.advance(std::chrono::milliseconds(300));
    auto got = b.sink->take_new();
    auto news = filter(got, "message.new");
    REQUIRE(news.size() == 1);
    CHECK(news[0]["channel_id"] == dm.str());
    auto cursors = filter(got, "channel.cursor");
    REQUIRE(cursors.size() == 1);
    CHECK(cursors[0]["channel_id"] == big.str());
    CHECK(cursors[0]["latest_seq"] == 1);
    // Nothing acked is lost: the sender got both acks and backfill returns the message.
    CHECK(filter(a.sink->frames(), "message.ack").size() == 2);
    f.inject(b, test::backfill_frame(big, 0, 100));
    f.run();
    auto pages = filter(b.sink->take_new(), "message.backfill");
    REQUIRE(pages.size() == 1);
    CHECK(pages[0]["messages"].size() == 1);
  }

  SECTION("with fan-out waiting longer than fanout.overload-delay-ms the big channel degrades "
          "too, and not once nothing waits any more") {
    f.node.env.counters->lane_backlog = 1; // one batch waits for its lane ...
    f.node.env.counters->lane_delay_ns = std::chrono::nanoseconds(limits.overload_delay).count() + 1;
    f.inject(a, test::send_frame(big, "hello big", "m1"));
    f.inject(a, test::send_frame(dm, "hello dm", "m2"));
    f.run();
    f.advance(std::chrono::milliseconds(300));
    auto got = b.sink->take_new();
    REQUIRE(filter(got, "message.new").size() == 1);
    CHECK(filter(got, "message.new")[0]["channel_id"] == dm.str());
    CHECK(filter(got, "channel.cursor").size() == 1);
    f.node.env.counters->lane_backlog = 0; // ... and then nothing does: push again
    f.inject(a, test::send_frame(big, "hello again", "m3"));
    f.run();
    got = b.sink->take_new();
    REQUIRE(filter(got, "message.new").size() == 1);
    CHECK(filter(got, "message.new")[0]["channel_id"] == big.str());
  }

  SECTION("with more sockets backed up than fanout.overload-backed-up-sockets the big channel "
          "degrades too, at the threshold and once they drain it pushes") {
    auto& backed_up = f.node.env.counters->sockets_backed_up; // as kept by the ws sessions
    auto threshold = static_cast<int64_t>(limits.overload_backed_up_sockets);
    REQUIRE(threshold > 0);
    backed_up = threshold; // at the threshold: a handful of slow readers, not overload
    f.inject(a, test::send_frame(big, "hello big", "m1"));
    f.run();
    auto got = b.sink->take_new();
    REQUIRE(filter(got, "message.new").size() == 1);
    CHECK(filter(got, "message.new")[0]["channel_id"] == big.str());
    CHECK(filter(got, "channel.cursor").empty());

    backed_up = threshold + 1; // above it: overloaded, nothing else changed
    f.inject(a, test::send_frame(big, "hello again", "m2"));
    f.inject(a, test::send_frame(dm, "hello dm", "m3"));
    f.run();
    f.advance(std::chrono::milliseconds(300));
    got = b.sink->take_new();
    auto news = filter(got, "message.new");
    REQUIRE(news.size() == 1);
    CHECK(news[0]["channel_id"] == dm.str());
    auto cursors = filter(got, "channel.cursor");
    REQUIRE(cursors.size() == 1);
    CHECK(cursors[0]["channel_id"] == big.str());
    CHECK(cursors[0]["latest_seq"] == 2);

    backed_up = 0; // the sockets drained: push again
    f.inject(a, test::send_frame(big, "drained", "m4"));
    f.run();
    got = b.sink->take_new();
    REQUIRE(filter(got, "message.new").size() == 1);
    CHECK(filter(got, "message.new")[0]["channel_id"] == big.str());
    CHECK(filter(got, "channel.cursor").empty());
  }
}

TEST_CASE("with fanout.overload-backed-up-sockets 0 full sockets never switch a channel to "
          "cursor mode", "[actors][overload]") {
  test_db db;
  auto limits = test_limits();
  limits.user_burst = 100;
  limits.overload_cursor_members = 10;
  limits.overload_backed_up_sockets = 0;
  workspace_id w{1};
  std::vector<user_id> many;
  for (uint64_t u = 1; u <= 20; ++u)
    many.push_back(user_id{u});
  auto big = db.create_channel(w, "big", many);
  actor_fixture f{db, limits};
  auto a = f.join(principal{w, user_id{1}});
  auto b = f.join(principal{w, user_id{2}});
  b.sink->take_new();

  f.node.env.counters->sockets_backed_up = 1000000;
  f.inject(a, test::send_frame(big, "hello big", "m1"));
  f.run();
  f.advance(std::chrono::milliseconds(300));
  auto got = b.sink->take_new();
  REQUIRE(filter(got, "message.new").size() == 1);
  CHECK(filter(got, "message.new")[0]["channel_id"] == big.str());
  CHECK(filter(got, "channel.cursor").empty());
}
