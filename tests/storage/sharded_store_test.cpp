// Storage sharded by workspace (issue 7): each workspace's rows live on its shard only, and a
// channel's shard is read from its id (storage/shard_map.hpp).

#include <set>
#include <string>
#include <vector>

#include "storage/errors.hpp"
#include "storage/shard_map.hpp"
#include "storage/sharded_store.hpp"
#include "tests/storage/backend_fixture.hpp"

using namespace parley;
using namespace parley::storage;
using namespace parley::storage::test;

namespace {

/// The first workspace id >= `from` that the hash places on `shard` of `count`.
workspace_id workspace_on(size_t shard, size_t count, uint64_t from = 1) {
  for (uint64_t id = from;; ++id)
    if (shard_map::hashed_shard(workspace_id{id}, count) == shard)
      return workspace_id{id};
}

std::unique_ptr<sharded_store> open_shards(const std::vector<std::string>& connections,
                                           std::map<workspace_id, size_t> overrides = {}) {
  auto store = open_sharded_store(connections, overrides, sync_mode::normal);
  INFO((store ? "" : caf::to_string(store.error())));
  REQUIRE(store);
  return std::move(*store);
}

std::string where_workspace(workspace_id w) {
  return " WHERE workspace_id = " + std::to_string(w.value);
}

} // namespace

TEST_CASE("a two-shard store keeps each workspace on its own database and finds channels by id",
          "[storage][sql][shards]") {
  auto backend = GENERATE(each_backend());
  INFO("storage backend: " << backend.name);
  test_database a{backend};
  test_database b{backend};
  auto wa = workspace_on(0, 2);
  auto wb = workspace_on(1, 2);
  auto store = open_shards({a.connection(), b.connection()});

  auto ca = store->create_channel(wa, "alpha", {user_id{1}, user_id{2}});
  auto cb = store->create_channel(wb, "beta", {user_id{1}, user_id{3}});
  REQUIRE(ca);
  REQUIRE(cb);
  // Shard 0 keeps the plain ids of a single database; shard 1 starts at 2^48 + 1.
  CHECK(ca->value == 1);
  CHECK(cb->value == (uint64_t{1} << 48) + 1);
  CHECK(shard_map::shard_of_channel(*ca) == 0);
  CHECK(shard_map::shard_of_channel(*cb) == 1);
  bool created = false;
  auto dm = store->open_dm(wb, user_id{1}, user_id{3}, created);
  REQUIRE(dm);
  CHECK(created);
  CHECK(shard_map::shard_of_channel(*dm) == 1);

  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto ra = store->append({msg(wa.value, ca->value, seq, 1, "a" + std::to_string(seq))});
    auto rb = store->append({msg(wb.value, cb->value, seq, 1, "b" + std::to_string(seq))});
    REQUIRE(ra);
    REQUIRE(rb);
    CHECK((*ra)[0].status == append_status::stored);
    CHECK((*rb)[0].status == append_status::stored);
  }

  // Physically apart: every row of a workspace is in its shard's database and none elsewhere.
  CHECK(a.query("SELECT COUNT(*) FROM messages" + where_workspace(wa)) == 3);
  CHECK(a.query("SELECT COUNT(*) FROM messages" + where_workspace(wb)) == 0);
  CHECK(b.query("SELECT COUNT(*) FROM messages" + where_workspace(wb)) == 3);
  CHECK(b.query("SELECT COUNT(*) FROM messages" + where_workspace(wa)) == 0);
  CHECK(a.query("SELECT COUNT(*) FROM channels") == 1);
  CHECK(b.query("SELECT COUNT(*) FROM channels") == 2);
  CHECK(a.query("SELECT COUNT(*) FROM channel_members" + where_workspace(wb)) == 0);
  CHECK(b.query("SELECT COUNT(*) FROM channel_members" + where_workspace(wb)) == 4);

  // By id alone, from a fresh store as another node would.
  auto other = open_shards({a.connection(), b.connection()});
  for (auto [channel, workspace] : {std::pair{*ca, wa}, std::pair{*cb, wb}, std::pair{*dm, wb}}) {
    auto info = other->find_channel(channel);
    REQUIRE(info);
    REQUIRE(info->has_value());
    CHECK((*info)->workspace == workspace);
  }
  // An id of a shard that is not configured is simply unknown.
  auto foreign = other->find_channel(shard_map::first_channel(7));
  REQUIRE(foreign);
  CHECK_FALSE(foreign->has_value());

  auto read = other->read_after(wb, *cb, 0, 10);
  REQUIRE(read);
  REQUIRE(read->size() == 3);
  CHECK(read->back().client_msg_id == "b3");
  auto sent = other->find_sent(wa, user_id{1}, "a2");
  REQUIRE(sent);
  REQUIRE(sent->has_value());
  CHECK((*sent)->seq == 2);
  auto latest = other->latest_seq(wb, *cb);
  REQUIRE(latest);
  CHECK(*latest == 3);
  auto mine = other->channels_of(wb, user_id{3});
  REQUIRE(mine);
  CHECK(*mine == std::vector<channel_id>{*cb, *dm});

  // The export reads every shard, in (workspace, channel, seq) order, and moves each cursor on
  // its own shard.
  auto unexported = other->read_unexported("s", workspace_id{}, channel_id{}, 100);
  REQUIRE(unexported);
  REQUIRE(unexported->size() == 6);
  CHECK(unexported->front().workspace == std::min(wa, wb));
  CHECK(unexported->back().workspace == std::max(wa, wb));
  REQUIRE_FALSE(other->advance_cursors("s", {{wa, *ca, 3}, {wb, *cb, 2}}));
  auto rest = other->read_unexported("s", workspace_id{}, channel_id{}, 100);
  REQUIRE(rest);
  REQUIRE(rest->size() == 1);
  CHECK(rest->front().channel == *cb);
  CHECK(rest->front().seq == 3);
  CHECK(b.query("SELECT last_seq FROM export_cursors WHERE channel_id = "
                + std::to_string(cb->value))
        == 2);
  CHECK(a.query("SELECT COUNT(*) FROM export_cursors WHERE channel_id = "
                + std::to_string(cb->value))
        == 0);
}

TEST_CASE("a batch spanning shards is refused whole; commit_group names each row's shard",
          "[storage][shards]") {
  sqlite_fixture a, b;
  auto wa = workspace_on(0, 2);
  auto wb = workspace_on(1, 2);
  auto store = open_shards({a.connection, b.connection});
  auto ca = store->create_channel(wa, "a", {user_id{1}});
  auto cb = store->create_channel(wb, "b", {user_id{1}});
  REQUIRE(ca);
  REQUIRE(cb);
  auto ma = msg(wa.value, ca->value, 1, 1, "x");
  auto mb = msg(wb.value, cb->value, 1, 1, "y");
  CHECK(store->commit_group(ma) == 0);
  CHECK(store->commit_group(mb) == 1);
  auto mixed = store->append({ma, mb});
  REQUIRE_FALSE(mixed);
  CHECK(storage_code(mixed.error()) == static_cast<uint8_t>(errc::invalid));
  auto none = store->read_after(wa, *ca, 0, 10);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("channel ids of different shards never collide", "[storage][shards]") {
  sqlite_fixture a, b, c;
  auto store = open_shards({a.connection, b.connection, c.connection});
  std::set<uint64_t> ids;
  size_t created = 0;
  for (uint64_t w = 1; w <= 30; ++w) {
    for (int k = 0; k < 2; ++k) {
      auto id = store->create_channel(workspace_id{w}, "c" + std::to_string(k), {user_id{1}});
      REQUIRE(id);
      ++created;
      ids.insert(id->value);
      // The id names the workspace's shard, within that shard's range.
      auto shard = store->map().shard_of(workspace_id{w});
      CHECK(shard_map::shard_of_channel(*id) == shard);
      CHECK(id->value >= shard_map::first_channel(shard).value);
      CHECK(id->value <= shard_map::last_channel(shard).value);
    }
  }
  CHECK(ids.size() == created);
  // All three shards got channels, so ids really came from three databases.
  std::set<size_t> used;
  for (auto id : ids)
    used.insert(shard_map::shard_of_channel(channel_id{id}));
  CHECK(used.size() == 3);
}

TEST_CASE("a shard override pins a workspace to its shard", "[storage][shards]") {
  sqlite_fixture a, b;
  auto hashed_to_0 = workspace_on(0, 2);
  auto store = open_shards({a.connection, b.connection}, {{hashed_to_0, 1}});
  CHECK(store->map().shard_of(hashed_to_0) == 1);
  auto ch = store->create_channel(hashed_to_0, "vip", {user_id{5}});
  REQUIRE(ch);
  CHECK(shard_map::shard_of_channel(*ch) == 1);
  REQUIRE(store->append({msg(hashed_to_0.value, ch->value, 1, 5, "m")}));
  auto on_a = query_integer(a.connection, "SELECT COUNT(*) FROM messages");
  auto on_b = query_integer(b.connection, "SELECT COUNT(*) FROM messages"
                                            + where_workspace(hashed_to_0));
  REQUIRE(on_a);
  REQUIRE(on_b);
  CHECK(*on_a == 0);
  CHECK(*on_b == 1);
  // Without the override the workspace's channel is found on a shard the workspace no longer
  // maps to: an error naming the problem, not a silent miss.
  auto unpinned = open_shards({a.connection, b.connection});
  auto info = unpinned->find_channel(*ch);
  REQUIRE_FALSE(info);
  CHECK(storage_code(info.error()) == static_cast<uint8_t>(errc::invalid));
  // An override beyond the shard list is a configuration error.
  auto bad = open_sharded_store({a.connection, b.connection}, {{hashed_to_0, 2}},
                                sync_mode::normal);
  CHECK_FALSE(bad);
}

TEST_CASE("a database keeps its shard index: a reordered shard list is refused",
          "[storage][sql][shards]") {
  auto backend = GENERATE(each_backend());
  INFO("storage backend: " << backend.name);
  test_database a{backend};
  test_database b{backend};
  {
    auto store = open_shards({a.connection(), b.connection()});
    REQUIRE(store->create_channel(workspace_on(0, 2), "a", {user_id{1}}));
    REQUIRE(store->create_channel(workspace_on(1, 2), "b", {user_id{1}}));
  }
  auto swapped = open_sharded_store({b.connection(), a.connection()}, {}, sync_mode::normal);
  REQUIRE_FALSE(swapped);
  CHECK(storage_code(swapped.error()) == static_cast<uint8_t>(errc::invalid));
  CHECK_THAT(caf::to_string(swapped.error()), Catch::Contains("keep its index"));
  // Reopened in the right order, ids continue in each shard's range.
  auto store = open_shards({a.connection(), b.connection()});
  auto next = store->create_channel(workspace_on(1, 2), "b2", {user_id{1}});
  REQUIRE(next);
  CHECK(next->value == (uint64_t{1} << 48) + 2);
}
