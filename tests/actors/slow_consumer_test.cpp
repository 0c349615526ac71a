// Deterministic simulation of a slow consumer (docs/architecture.md "Backpressure", "Slow
// consumers"): the gateway pushes into a bounded outbound_queue that only drains when the test says
// so.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/actor_fixture.hpp"

namespace parley::test {
namespace {

const workspace_id ws{1};
const user_id u1{1}, u2{2};

} // namespace

TEST_CASE("a slow consumer loses the oldest message.new, then sees channel.cursor and "
          "backfills what it missed",
          "[actors][gateway][slow_consumer]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  auto limits = test_limits();
  limits.user_burst = 100; // 20 sends at once
  actor_fixture fx{db, limits};
  auto a = fx.join(principal{ws, u1});
  auto slow = std::make_shared<queue_sink>(5);
  auto b = fx.join(principal{ws, u2}, slow);
  slow->drain();
  auto greeting = slow->take_new();
  REQUIRE_FALSE(greeting.empty());
  CHECK(greeting[0].at("type") == "hello_ack");

  for (int i = 1; i <= 20; ++i)
    fx.inject(a, send_frame(ch, "msg " + std::to_string(i), "s" + std::to_string(i)));
  fx.run();

  // The fast reader gets everything; the sender is never slowed down by the slow one.
  CHECK(seqs_of(a.sink->of_type("message.ack")) == iota_seqs(1, 20));
  CHECK(seqs_of(a.sink->of_type("message.new")) == iota_seqs(1, 20));

  // Nothing was written to B yet; its queue kept the newest 5.
  CHECK(slow->take_new().empty());
  CHECK(slow->dropped() == 15);
  slow->drain();
  auto frames = slow->take_new();
  auto news = filter(frames, "message.new");
  CHECK(seqs_of(news) == iota_seqs(16, 20));
  auto cursors = filter(frames, "channel.cursor");
  REQUIRE(cursors.size() == 1);
  CHECK(cursors[0].at("channel_id") == ch.str());
  CHECK(cursors[0].at("latest_seq") == 20);
  CHECK(frames.back().at("type") == "channel.cursor");
  CHECK(b.sink->closes().empty());

  // The client saw a gap before 16: it asks for everything after its last contiguous seq.
  fx.inject(b, backfill_frame(ch, 0, 100));
  fx.run();
  slow->drain();
  frames = slow->take_new();
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].at("type") == "message.backfill");
  CHECK(seqs_of(frames[0].at("messages")) == iota_seqs(1, 20));
  CHECK(frames[0].at("has_more") == false);
  CHECK(frames[0].at("messages")[0].at("text") == "msg 1");
  CHECK(frames[0].at("messages")[0].at("user_id") == u1.str());
}

TEST_CASE("acks and presence for a slow consumer are never dropped",
          "[actors][gateway][slow_consumer]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  auto limits = test_limits();
  limits.user_burst = 100;
  actor_fixture fx{db, limits};
  auto slow = std::make_shared<queue_sink>(2);
  auto a = fx.join(principal{ws, u1}, slow);
  auto b = fx.join(principal{ws, u2});
  for (int i = 1; i <= 10; ++i)
    fx.inject(a, send_frame(ch, "msg " + std::to_string(i), "s" + std::to_string(i)));
  fx.run();
  slow->drain();
  auto frames = slow->frames();
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(seqs_of(filter(frames, "message.ack")) == iota_seqs(1, 10));
  CHECK(seqs_of(filter(frames, "message.new")) == iota_seqs(9, 10));
  auto presence = filter(frames, "presence.update");
  REQUIRE(presence.size() == 2);
  CHECK(presence[0].at("user_id") == u1.str());
  CHECK(presence[1].at("user_id") == u2.str());
  auto cursors = filter(frames, "channel.cursor");
  REQUIRE(cursors.size() == 1);
  CHECK(cursors[0].at("latest_seq") == 10);
  CHECK(seqs_of(b.sink->of_type("message.new")) == iota_seqs(1, 10));
}

} // namespace parley::test
