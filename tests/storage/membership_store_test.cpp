#include <thread>
#include <vector>

#include "tests/storage/backend_fixture.hpp"

using namespace parley;
using namespace parley::storage;
using namespace parley::storage::test;

namespace {

const workspace_id w1{1};
const workspace_id w2{2};

std::vector<user_id> users(std::initializer_list<uint64_t> ids) {
  std::vector<user_id> result;
  for (auto id : ids)
    result.emplace_back(id);
  return result;
}

std::vector<channel_id> channels(std::initializer_list<uint64_t> ids) {
  std::vector<channel_id> result;
  for (auto id : ids)
    result.emplace_back(id);
  return result;
}

} // namespace

TEST_CASE("create_channel allocates ids from 1 and stores its initial members",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto general = store->create_channel(w1, "general", users({9, 7, 8, 7}));
  REQUIRE(general);
  CHECK(general->value == 1);
  auto random = store->create_channel(w2, "random", users({7}));
  REQUIRE(random);
  CHECK(random->value == 2); // ids are unique across workspaces
  auto members = store->members(w1, *general);
  REQUIRE(members);
  CHECK(*members == users({7, 8, 9}));
  auto info = store->find_channel(*general);
  REQUIRE(info);
  REQUIRE(info->has_value());
  CHECK((*info)->id == *general);
  CHECK((*info)->workspace == w1);
  CHECK((*info)->name == "general");
  CHECK_FALSE((*info)->is_dm);
}

TEST_CASE("find_channel of an unknown id returns nothing", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto info = store->find_channel(channel_id{42});
  REQUIRE(info);
  CHECK_FALSE(info->has_value());
}

TEST_CASE("channel ids are never reused after a reopen", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  {
    auto store = db.open();
    REQUIRE(store->create_channel(w1, "a", {}));
    REQUIRE(store->create_channel(w1, "b", {}));
  }
  db.exec("DELETE FROM channels WHERE channel_id = 2");
  auto store = db.open();
  auto next = store->create_channel(w1, "c", {});
  REQUIRE(next);
  CHECK(next->value == 3);
}

TEST_CASE("open_dm returns the same channel for either order of the pair",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  bool created = false;
  auto first = store->open_dm(w1, user_id{7}, user_id{3}, created);
  REQUIRE(first);
  CHECK(created);
  auto again = store->open_dm(w1, user_id{3}, user_id{7}, created);
  REQUIRE(again);
  CHECK_FALSE(created);
  CHECK(*again == *first);
  auto other_store = db.open();
  auto from_elsewhere = other_store->open_dm(w1, user_id{7}, user_id{3}, created);
  REQUIRE(from_elsewhere);
  CHECK_FALSE(created);
  CHECK(*from_elsewhere == *first);
  auto members = store->members(w1, *first);
  REQUIRE(members);
  CHECK(*members == users({3, 7}));
  auto info = store->find_channel(*first);
  REQUIRE(info);
  REQUIRE(info->has_value());
  CHECK((*info)->is_dm);
  CHECK((*info)->name.empty());
  CHECK((*info)->workspace == w1);
}

TEST_CASE("open_dm keeps pairs of different workspaces apart", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  bool created = false;
  auto in_w1 = store->open_dm(w1, user_id{1}, user_id{2}, created);
  REQUIRE(in_w1);
  auto in_w2 = store->open_dm(w2, user_id{1}, user_id{2}, created);
  REQUIRE(in_w2);
  CHECK(created);
  CHECK(*in_w1 != *in_w2);
}

TEST_CASE("open_dm with oneself is invalid", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  bool created = true;
  auto dm = store->open_dm(w1, user_id{7}, user_id{7}, created);
  REQUIRE_FALSE(dm);
  CHECK(storage_code(dm.error()) == static_cast<uint8_t>(errc::invalid));
  CHECK_FALSE(created);
}

TEST_CASE("adding a member twice is a no-op", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto c = store->create_channel(w1, "general", users({1}));
  REQUIRE(c);
  auto added = store->add_member(w1, *c, user_id{2});
  REQUIRE(added);
  CHECK(*added);
  auto again = store->add_member(w1, *c, user_id{2});
  REQUIRE(again);
  CHECK_FALSE(*again);
  CHECK(*store->members(w1, *c) == users({1, 2}));
}

TEST_CASE("removing a member reports whether it was one", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto c = store->create_channel(w1, "general", users({1, 2}));
  REQUIRE(c);
  auto stranger = store->remove_member(w1, *c, user_id{3});
  REQUIRE(stranger);
  CHECK_FALSE(*stranger);
  auto other_workspace = store->remove_member(w2, *c, user_id{1});
  REQUIRE(other_workspace);
  CHECK_FALSE(*other_workspace);
  auto removed = store->remove_member(w1, *c, user_id{1});
  REQUIRE(removed);
  CHECK(*removed);
  auto twice = store->remove_member(w1, *c, user_id{1});
  REQUIRE(twice);
  CHECK_FALSE(*twice);
  CHECK(*store->members(w1, *c) == users({2}));
}

TEST_CASE("channels_of lists a user's channels ascending within its workspace",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  REQUIRE(store->create_channel(w1, "one", users({7})));      // C1
  REQUIRE(store->create_channel(w1, "two", users({8})));      // C2
  REQUIRE(store->create_channel(w2, "elsewhere", users({7}))); // C3: another user 7
  REQUIRE(store->create_channel(w1, "four", users({7, 8})));  // C4
  bool created = false;
  REQUIRE(store->open_dm(w1, user_id{8}, user_id{7}, created)); // C5
  REQUIRE(store->add_member(w1, channel_id{2}, user_id{7}));
  auto mine = store->channels_of(w1, user_id{7});
  REQUIRE(mine);
  CHECK(*mine == channels({1, 2, 4, 5}));
  REQUIRE(store->remove_member(w1, channel_id{4}, user_id{7}));
  CHECK(*store->channels_of(w1, user_id{7}) == channels({1, 2, 5}));
  CHECK(*store->channels_of(w2, user_id{7}) == channels({3}));
  auto nobody = store->channels_of(w1, user_id{99});
  REQUIRE(nobody);
  CHECK(nobody->empty());
}

TEST_CASE("list_channels gives a user's channels with names, latest seqs and DM members",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  REQUIRE(store->create_channel(w1, "general", users({7, 8})));  // C1
  REQUIRE(store->create_channel(w1, "theirs", users({8})));      // C2
  REQUIRE(store->create_channel(w2, "elsewhere", users({7})));   // C3: another user 7
  bool created = false;
  REQUIRE(store->open_dm(w1, user_id{9}, user_id{7}, created)); // C4
  REQUIRE(store->create_channel(w1, "quiet", users({7})));       // C5
  std::vector<chat_message> batch;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    chat_message m;
    m.workspace = w1;
    m.channel = channel_id{1};
    m.seq = seq;
    m.user = user_id{8};
    m.client_msg_id = "m" + std::to_string(seq);
    m.text = "hello";
    m.ts = 1'700'000'000'000'000 + static_cast<int64_t>(seq);
    batch.push_back(m);
  }
  batch.push_back(batch.back());
  batch.back().channel = channel_id{4};
  batch.back().seq = 1;
  batch.back().client_msg_id = "dm1";
  REQUIRE(store->append(batch));

  auto mine = store->list_channels(w1, user_id{7});
  REQUIRE(mine);
  REQUIRE(mine->size() == 3);
  auto& general = (*mine)[0];
  CHECK(general.id == channel_id{1});
  CHECK(general.name == "general");
  CHECK(general.latest_seq == 3);
  CHECK_FALSE(general.is_dm);
  CHECK(general.members.empty());
  auto& dm = (*mine)[1];
  CHECK(dm.id == channel_id{4});
  CHECK(dm.name.empty());
  CHECK(dm.latest_seq == 1);
  CHECK(dm.is_dm);
  CHECK(dm.members == users({7, 9}));
  auto& quiet = (*mine)[2];
  CHECK(quiet.id == channel_id{5});
  CHECK(quiet.name == "quiet");
  CHECK(quiet.latest_seq == 0);

  // Another workspace's user 7 sees only its own channel; a stranger none.
  auto other = store->list_channels(w2, user_id{7});
  REQUIRE(other);
  REQUIRE(other->size() == 1);
  CHECK((*other)[0].name == "elsewhere");
  auto nobody = store->list_channels(w1, user_id{99});
  REQUIRE(nobody);
  CHECK(nobody->empty());
}

TEST_CASE("two stores opening the same DMs at once agree on one channel per pair",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  db.open(); // the schema exists before the race
  constexpr uint64_t pairs = 40;
  std::vector<channel_id> seen[2];
  int created_count[2] = {0, 0};
  int errors[2] = {0, 0};
  auto open_all = [&](int who) {
    auto store = open_soci_store(db.connection(), sync_mode::normal);
    if (!store) {
      ++errors[who];
      return;
    }
    for (uint64_t i = 1; i <= pairs; ++i) {
      bool created = false;
      // Opposite orders of the pair from the two stores.
      auto dm = who == 0 ? (*store)->open_dm(w1, user_id{i}, user_id{1000 + i}, created)
                         : (*store)->open_dm(w1, user_id{1000 + i}, user_id{i}, created);
      if (!dm) {
        ++errors[who];
        seen[who].emplace_back(0);
        continue;
      }
      seen[who].push_back(*dm);
      created_count[who] += created ? 1 : 0;
    }
  };
  std::thread first{open_all, 0};
  std::thread second{open_all, 1};
  first.join();
  second.join();
  CHECK(errors[0] == 0);
  CHECK(errors[1] == 0);
  CHECK(seen[0] == seen[1]);
  CHECK(created_count[0] + created_count[1] == static_cast<int>(pairs));
  auto store = db.open();
  CHECK(db.query("SELECT COUNT(*) FROM channels") == static_cast<long long>(pairs));
  CHECK(db.query("SELECT COUNT(*) FROM channel_members") == static_cast<long long>(2 * pairs));
}
