// The presence scenario's plan (tools/bench/watch_plan.hpp): who watches whom, the same every
// run, and the subscribe frames within the protocol's 100 ids.

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include <nlohmann/json.hpp>

#include "tools/bench/plan.hpp"
#include "tools/bench/watch_plan.hpp"

using namespace parley::bench;

TEST_CASE("watchers spread over the members and each watches distinct others",
          "[bench][presence]") {
  auto p = make_watch_plan(10000, 0.05, 100);
  REQUIRE(p.watchers.size() == 500);
  REQUIRE(p.targets.size() == 500);
  CHECK(p.watchers.front() == 0);
  CHECK(p.watchers[1] == 20);
  CHECK(p.watchers.back() == 9980);
  CHECK(std::count(p.is_watcher.begin(), p.is_watcher.end(), true) == 500);
  uint64_t watches = 0;
  for (size_t w = 0; w < p.watchers.size(); ++w) {
    auto& t = p.targets[w];
    REQUIRE(t.size() == 100);
    CHECK(std::is_sorted(t.begin(), t.end()));
    CHECK(std::adjacent_find(t.begin(), t.end()) == t.end());
    CHECK(std::find(t.begin(), t.end(), p.watchers[w]) == t.end());
    CHECK(t.back() < 10000);
    watches += t.size();
  }
  CHECK(std::accumulate(p.watcher_count.begin(), p.watcher_count.end(), uint64_t{0}) == watches);
  // Spread over all members: both halves are watched about equally.
  auto half = std::accumulate(p.watcher_count.begin(), p.watcher_count.begin() + 5000, 0u);
  CHECK(half > watches * 45 / 100);
  CHECK(half < watches * 55 / 100);
}

TEST_CASE("the watch plan is the same on every run and empty without watchers",
          "[bench][presence]") {
  auto a = make_watch_plan(2000, 0.1, 50), b = make_watch_plan(2000, 0.1, 50);
  CHECK(a.watchers == b.watchers);
  CHECK(a.targets == b.targets);
  CHECK(make_watch_plan(2000, 0.1, 50, 2).targets != a.targets);
  auto none = make_watch_plan(10000, 0, 100);
  CHECK(none.watchers.empty());
  CHECK(none.watcher_count == std::vector<uint32_t>(10000, 0));
  CHECK(make_watch_plan(10, 0.01, 3).watchers.size() == 1); // a fraction > 0 gets one
  CHECK(make_watch_plan(5, 1, 4).targets.size() == 5);
  CHECK_THROWS(make_watch_plan(5, 0.5, 5));
  CHECK_THROWS(make_watch_plan(5, 1.5, 1));
}

TEST_CASE("subscriptions go in presence.subscribe frames of at most 100 ids",
          "[bench][presence]") {
  std::vector<uint64_t> users(250);
  std::iota(users.begin(), users.end(), 7);
  auto frames = subscribe_frames(users);
  REQUIRE(frames.size() == 3);
  auto first = nlohmann::json::parse(frames[0]);
  CHECK(frames[0].rfind(R"({"type":"presence.subscribe","user_ids":["U7","U8",)", 0) == 0);
  CHECK(first["user_ids"].size() == 100);
  CHECK(nlohmann::json::parse(frames[2])["user_ids"].size() == 50);
  CHECK(nlohmann::json::parse(frames[2])["user_ids"].back() == "U256");
  CHECK(subscribe_frames({}).empty());
}

TEST_CASE("the presence scenario runs in one process", "[bench][presence]") {
  options o;
  o.mode = "presence";
  o.members = 10000;
  o.per_worker = 16000;
  auto p = plan_processes(o, 20000);
  CHECK(p.error.empty());
  CHECK(p.workers == 0);
  o.members = 30000;
  CHECK_FALSE(plan_processes(o, 20000).error.empty());
}
