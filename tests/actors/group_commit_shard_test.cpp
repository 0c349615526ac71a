// Group commit over storage shards (issue 7): a batch spanning shards commits once per shard,
// and each append is answered after its own shard's commit, so a failing shard fails only
// its own rows.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/group_commit.hpp"
#include "storage/sharded_store.hpp"
#include "tests/storage/sqlite_fixture.hpp"
#include "tests/support/actor_fixture.hpp"

using namespace parley;
using storage::test::msg;

TEST_CASE("group_commit commits a batch spanning shards once per shard and fails only the failing "
          "shard's appends",
          "[actors][group_commit][shards]") {
  storage::test::sqlite_fixture a, b;
  const workspace_id w1{1}, w2{2};
  auto opened = storage::open_sharded_store({a.connection, b.connection}, {{w1, 0}, {w2, 1}},
                                            storage::sync_mode::normal);
  REQUIRE(opened);
  std::shared_ptr<storage::sharded_store> store = std::move(*opened);
  auto c1 = store->create_channel(w1, "one", {user_id{1}});
  auto c2 = store->create_channel(w2, "two", {user_id{1}});
  REQUIRE(c1);
  REQUIRE(c2);
  // Shard 1 fails any row with seq 3: its whole transaction rolls back.
  b.exec_raw("CREATE TRIGGER fail_seq BEFORE INSERT ON messages WHEN NEW.channel_seq = 3"
             " BEGIN SELECT RAISE(ABORT, 'injected fault'); END");

  test::actor_test_config cfg;
  caf::actor_system sys{cfg};
  sys.await_actors_before_shutdown(false);
  auto& sched = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  auto seq = sys.spawn(group_commit, store, size_t{100});

  // Interleaved appends of both shards, all in one batch (one flush behind them).
  std::vector<chat_message> batch{msg(1, c1->value, 1, 1, "a1"), msg(2, c2->value, 1, 1, "b1"),
                                  msg(1, c1->value, 2, 1, "a2"), msg(2, c2->value, 2, 1, "b2"),
                                  msg(2, c2->value, 3, 1, "b3"), msg(1, c1->value, 3, 1, "a3")};
  auto results = std::make_shared<std::map<std::string, std::string>>();
  // The batch goes in as an argument: CAF 0.17 spawning a functor without arguments binds a
  // reference to a null pointer (UBSan reports it).
  sys.spawn(
    [=](caf::event_based_actor* self, const std::vector<chat_message>& appends) {
      for (auto& m : appends)
        self->request(seq, caf::infinite, append_atom::value, m)
          .then([=](const storage::append_outcome& o) {
                  (*results)[m.client_msg_id]
                    = o.status == storage::append_status::stored ? "stored" : "other";
                },
                [=](const caf::error&) { (*results)[m.client_msg_id] = "error"; });
    },
    batch);
  sched.run();

  REQUIRE(results->size() == 6);
  for (auto id : {"a1", "a2", "a3"})
    CHECK((*results)[id] == "stored");
  for (auto id : {"b1", "b2", "b3"})
    CHECK((*results)[id] == "error");
  auto* st = dynamic_cast<group_commit_actor::stateful_pointer<group_commit_state>>(
    caf::actor_cast<caf::abstract_actor*>(seq));
  REQUIRE(st != nullptr);
  CHECK(st->state.batches == 2); // one commit per shard, not one per row
  auto on_a = store->read_after(w1, *c1, 0, 10);
  auto on_b = store->read_after(w2, *c2, 0, 10);
  REQUIRE(on_a);
  REQUIRE(on_b);
  CHECK(on_a->size() == 3);
  CHECK(on_b->empty());
  caf::anon_send_exit(seq, caf::exit_reason::user_shutdown);
  sched.run();
}
