#include <map>
#include <string>
#include <vector>

#include "storage/shard_map.hpp"
#include "tests/storage/backend_fixture.hpp"

using namespace parley;
using namespace parley::storage;
using namespace parley::storage::test;

namespace {

std::vector<size_t> shards_of(const shard_map& map, uint64_t first, uint64_t last) {
  std::vector<size_t> result;
  for (auto w = first; w <= last; ++w)
    result.push_back(map.shard_of(workspace_id{w}));
  return result;
}

} // namespace

TEST_CASE("the shard of a workspace is a fixed function of its id and the shard count",
          "[storage][shard]") {
  // Pinned: a change here strands every moved workspace's history on its old shard.
  auto four = shard_map::make(4);
  REQUIRE(four);
  CHECK(shards_of(*four, 1, 12) == std::vector<size_t>{3, 3, 0, 1, 1, 1, 3, 0, 2, 2, 2, 0});
  auto two = shard_map::make(2);
  REQUIRE(two);
  CHECK(shards_of(*two, 1, 8) == std::vector<size_t>{0, 1, 0, 1, 1, 1, 0, 0});
  auto one = shard_map::make(1);
  REQUIRE(one);
  CHECK(shards_of(*one, 1, 100) == std::vector<size_t>(100, 0));
  CHECK(one->size() == 1);
}

TEST_CASE("hashing spreads workspaces evenly over the shards", "[storage][shard]") {
  auto map = shard_map::make(4);
  REQUIRE(map);
  std::vector<int> counts(4, 0);
  for (uint64_t w = 1; w <= 20'000; ++w)
    ++counts[map->shard_of(workspace_id{w})];
  for (auto n : counts) {
    INFO("per shard: " << counts[0] << " " << counts[1] << " " << counts[2] << " " << counts[3]);
    CHECK(n > 4'500);
    CHECK(n < 5'500);
  }
}

TEST_CASE("adding a fifth shard moves about a fifth of the workspaces, all to the new shard",
          "[storage][shard]") {
  int moved = 0;
  for (uint64_t w = 1; w <= 20'000; ++w) {
    auto before = shard_map::hashed_shard(workspace_id{w}, 4);
    auto after = shard_map::hashed_shard(workspace_id{w}, 5);
    if (before != after) {
      ++moved;
      CHECK(after == 4);
    }
  }
  CHECK(moved > 3'500);
  CHECK(moved < 4'500);
}

TEST_CASE("an override pins a workspace to its shard ahead of the hash", "[storage][shard]") {
  // W1 and W2 hash to shard 3 of 4 (pinned above).
  auto map = shard_map::make(4, {{workspace_id{1}, 0}, {workspace_id{2}, 1}});
  REQUIRE(map);
  CHECK(map->shard_of(workspace_id{1}) == 0);
  CHECK(map->shard_of(workspace_id{2}) == 1);
  CHECK(shards_of(*map, 3, 8) == std::vector<size_t>{0, 1, 1, 1, 3, 0}); // others: hashed
}

TEST_CASE("a map without shards or with an override beyond the last shard is invalid",
          "[storage][shard]") {
  auto none = shard_map::make(0);
  REQUIRE_FALSE(none);
  CHECK(storage_code(none.error()) == static_cast<uint8_t>(errc::invalid));
  auto beyond = shard_map::make(2, {{workspace_id{5}, 2}});
  REQUIRE_FALSE(beyond);
  CHECK(storage_code(beyond.error()) == static_cast<uint8_t>(errc::invalid));
}

TEST_CASE("a two-shard config keeps two workspaces apart physically", "[storage][shard][sql]") {
  auto backend = GENERATE(each_backend());
  INFO("storage backend: " << backend.name);
  test_database shard0{backend};
  test_database shard1{backend};
  std::vector<test_database*> databases{&shard0, &shard1};
  auto map = shard_map::make(2);
  REQUIRE(map);
  // W1 and W2 hash to different shards (pinned above).
  const workspace_id w1{1};
  const workspace_id w2{2};
  REQUIRE(map->shard_of(w1) == 0);
  REQUIRE(map->shard_of(w2) == 1);
  std::vector<std::unique_ptr<soci_store>> stores;
  for (auto* db : databases)
    stores.push_back(db->open());
  auto store_of = [&](workspace_id w) -> soci_store& { return *stores[map->shard_of(w)]; };

  // The same user, channel and client_msg_id numbers in both workspaces.
  std::map<uint64_t, channel_id> channel_of;
  for (auto w : {w1, w2}) {
    auto& store = store_of(w);
    auto c = store.create_channel(w, "general", {user_id{7}, user_id{8}});
    REQUIRE(c);
    channel_of[w.value] = *c;
    bool created = false;
    REQUIRE(store.open_dm(w, user_id{7}, user_id{8}, created));
    CHECK(created);
    std::vector<chat_message> batch;
    for (uint64_t seq = 1; seq <= 5; ++seq)
      batch.push_back(msg(w.value, c->value, seq, 7, "m" + std::to_string(seq),
                          w.str() + " says " + std::to_string(seq)));
    auto outcomes = store.append(batch);
    REQUIRE(outcomes);
    for (auto& outcome : *outcomes)
      CHECK(outcome.status == append_status::stored);
  }

  // Each shard holds exactly its workspace's rows, counted with raw SQL.
  for (size_t shard = 0; shard < 2; ++shard) {
    auto own = std::to_string(shard == 0 ? w1.value : w2.value);
    INFO("shard " << shard);
    auto& db = *databases[shard];
    CHECK(db.query("SELECT COUNT(*) FROM messages") == 5);
    CHECK(db.query("SELECT COUNT(*) FROM messages WHERE workspace_id = " + own) == 5);
    CHECK(db.query("SELECT COUNT(*) FROM channels") == 2);
    CHECK(db.query("SELECT COUNT(*) FROM channels WHERE workspace_id = " + own) == 2);
    CHECK(db.query("SELECT COUNT(*) FROM channel_members") == 4);
    CHECK(db.query("SELECT COUNT(*) FROM channel_members WHERE workspace_id = " + own) == 4);
  }

  // Reads through the map find each workspace's messages; the other shard knows nothing.
  for (auto [mine, other] : {std::pair{w1, w2}, std::pair{w2, w1}}) {
    auto rows = store_of(mine).read_after(mine, channel_of[mine.value], 0, 100);
    REQUIRE(rows);
    REQUIRE(rows->size() == 5);
    CHECK((*rows)[0].text == mine.str() + " says 1");
    auto& foreign = store_of(other);
    CHECK(*foreign.latest_seq(mine, channel_of[mine.value]) == 0);
    auto sent = foreign.find_sent(mine, user_id{7}, "m1");
    REQUIRE(sent);
    CHECK_FALSE(sent->has_value());
    CHECK(foreign.channels_of(mine, user_id{7})->empty());
  }
}
