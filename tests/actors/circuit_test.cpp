// The inter-node delivery deadline and circuit breaker in the deterministic multi-node
// simulation (docs/architecture.md "Backpressure", layer 3). A stuck node is a gateway actor held
// off the test scheduler: messages reach its mailbox, nothing runs, so nothing is confirmed.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <caf/resumable.hpp>

#include "tests/support/cluster_fixture.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using state = circuit_breaker::state;

const workspace_id ws{1};
const user_id u1{1}, u2{2}, u3{3};

/// Keeps one actor from running while the rest of the simulation runs. (Its mailbox is not
/// inspected from outside: reading the size of a blocked CAF mailbox unblocks it.)
class stuck_actor {
public:
  template <class Handle>
  stuck_actor(cluster_fixture& fx, const Handle& hdl)
    : fx_(fx), ptr_(dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(hdl))) {
  }

  /// Runs every job but the stuck actor's until idle.
  void run() {
    fx_.sched.run_jobs_filtered([this](caf::resumable* r) { return r != ptr_; });
  }

  /// Moves time forward (firing due timers: request deadlines, ticks), then runs.
  void advance(caf::timespan d) {
    fx_.sched.advance_time(d);
    run();
  }

private:
  cluster_fixture& fx_;
  caf::resumable* ptr_;
};

std::vector<uint64_t> new_seqs(const sim_client& c) {
  return seqs_of(filter(c.sink->frames(), "message.new"));
}

} // namespace

TEST_CASE("a peer that confirms nothing for 2 s gets its circuit opened (deliveries went on "
          "until then), one probe per 10 s, and live deliveries again once it answers",
          "[actors][circuit]") {
  test_db db;
  auto limits = test_limits();
  limits.user_burst = 1000; // this test is about deliveries, not rate limits
  REQUIRE(limits.internode_deadline == caf::timespan{50ms}); // the defaults under test
  REQUIRE(limits.peer_dead_after == caf::timespan{2s});
  REQUIRE(limits.circuit_failures == 1);
  REQUIRE(limits.circuit_probe_interval == caf::timespan{10s});
  std::vector<std::string> names{"n1", "n2", "n3"};
  auto ch = db.create_channel(ws, "c", {u1, u2, u3});
  auto owner = cluster_fixture::owner_among(ch, names);
  std::vector<std::string> others;
  for (auto& n : names)
    if (n != owner)
      others.push_back(n);
  auto stuck = others[0];
  auto healthy = others[1];
  cluster_fixture fx{db, names, limits};
  auto sender = fx.join(owner, principal{ws, u1});
  auto cut_off = fx.join(stuck, principal{ws, u2});
  auto fine = fx.join(healthy, principal{ws, u3});
  auto& circuits = *fx.node(owner).actors.circuits;
  auto& stuck_counters = *fx.node(stuck).actors.env.counters;
  // Deliveries the owner sent to other nodes (skipped ones are not sent).
  auto sent = [&] { return fx.node(owner).actors.env.counters->deliveries_sent_remote.load(); };
  stuck_actor gw{fx, fx.node(stuck).actors.gateway};
  auto send = [&](const std::string& cmid) {
    fx.inject(sender, send_frame(ch, "text " + cmid, cmid));
    gw.run();
  };
  auto row = [&] {
    for (auto& r : circuits.snapshot())
      if (r.peer == stuck)
        return r;
    FAIL("no circuit for " << stuck);
    return peer_circuit_row{};
  };

  // Healthy cluster: every node confirms in time, both circuits stay closed.
  fx.inject(sender, send_frame(ch, "hello", "m1"));
  fx.run();
  fx.advance(1s);
  CHECK(new_seqs(cut_off) == std::vector<uint64_t>{1});
  CHECK(circuits.state_of(stuck) == state::closed);
  CHECK(circuits.state_of(healthy) == state::closed);
  CHECK(row().deadline_misses == 0);

  // The peer stalls. Missing the 50 ms deadline only makes it slow: deliveries go on (a small
  // channel keeps pushing) until it has confirmed nothing for 2 s, which opens the circuit.
  auto before_stall = sent();
  for (int i = 2; i <= 6; ++i) {
    send("m" + std::to_string(i));
    gw.advance(100ms);
  }
  CHECK(sent() - before_stall == 10); // m2..m6 to both peers
  CHECK(circuits.state_of(stuck) == state::closed);
  CHECK(row().failures == 0);
  gw.advance(1499ms); // m2's confirmation has been out for 1,999 ms
  CHECK(circuits.state_of(stuck) == state::closed);
  gw.advance(1ms);
  CHECK(circuits.state_of(stuck) == state::open);
  CHECK(row().failures == 1);

  // Open: nothing more is sent to the stuck node; the healthy node gets everything.
  auto before = sent();
  send("m7");
  send("m8");
  CHECK(sent() - before == 2); // to the healthy node only
  CHECK(row().skipped == 2);
  CHECK(new_seqs(fine) == iota_seqs(1, 8));
  CHECK(seqs_of(filter(sender.sink->frames(), "message.ack")) == iota_seqs(1, 8));
  gw.advance(9s);
  CHECK(sent() - before == 2);
  CHECK(circuits.state_of(stuck) == state::open);

  // 10 s after opening, the owner's outbox toward the stuck node sends the one probe: a batch
  // of nothing, not a delivery of any channel.
  gw.advance(1s);
  CHECK(circuits.state_of(stuck) == state::half_open);
  CHECK(sent() - before == 2);
  CHECK(row().probes == 1);
  send("m9"); // half-open: only the probe is out
  CHECK(sent() - before == 3);
  CHECK(row().skipped == 3);
  gw.advance(2s); // the peer is still stuck: the probe fails, the circuit reopens
  CHECK(circuits.state_of(stuck) == state::open);
  CHECK(row().failures == 2);

  // The peer recovers and works off its backlog; late confirmations do not close the circuit,
  // and the channel owes its clients a cursor, not yet sent.
  CHECK(stuck_counters.deliveries_received == 1); // m1 only, so far
  fx.run();
  CHECK(stuck_counters.deliveries_received == 6);
  CHECK(circuits.state_of(stuck) == state::open);
  CHECK(new_seqs(cut_off) == iota_seqs(1, 6));
  CHECK(filter(cut_off.sink->frames(), "channel.cursor").empty());

  // Next probe 10 s after the failed one: it is confirmed at once and closes the circuit, and
  // the outbox tells the channel, which sends the cursor of what was skipped (no polling).
  fx.advance(10s);
  CHECK(circuits.state_of(stuck) == state::closed);
  CHECK(row().probes == 2);
  auto cursors = filter(cut_off.sink->frames(), "channel.cursor");
  REQUIRE(cursors.size() == 1);
  CHECK(cursors[0]["latest_seq"] == 9);

  // Live deliveries resume; the cut-off client backfills what the open circuit skipped.
  fx.inject(sender, send_frame(ch, "back", "m10"));
  fx.run();
  CHECK(new_seqs(cut_off) == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 10});
  fx.inject(cut_off, backfill_frame(ch, 6, 100));
  fx.run();
  auto pages = filter(cut_off.sink->frames(), "message.backfill");
  REQUIRE(pages.size() == 1);
  std::vector<uint64_t> backfilled;
  for (auto& m : pages[0]["messages"])
    backfilled.push_back(m["channel_seq"].get<uint64_t>());
  CHECK(backfilled == std::vector<uint64_t>{7, 8, 9, 10});
  // Exactly the deliveries sent reached the stuck node: m1..m6 and m10, never m7..m9.
  CHECK(stuck_counters.deliveries_received == 7);
  CHECK(new_seqs(fine) == iota_seqs(1, 10));
  CHECK(circuits.state_of(healthy) == state::closed);
  for (auto& r : circuits.snapshot())
    if (r.peer == healthy) {
      CHECK(r.deadline_misses == 0);
      CHECK(r.failures == 0);
      CHECK(r.skipped == 0);
    }
  CHECK(fx.verify_storage() == 10);
}

TEST_CASE("a slow peer is not cut off: large channels owe it cursors while DMs keep pushing, and "
          "large channels push again once it confirms in time",
          "[actors][circuit]") {
  test_db db;
  auto limits = test_limits();
  limits.user_burst = 1000;
  limits.overload_cursor_members = 2; // a 3-member channel counts as large here
  std::vector<std::string> names{"n1", "n2"};
  // A large channel and a DM with the same owner; u2 is on the other node.
  auto big = db.create_channel(ws, "big", {u1, u2, u3});
  auto owner = cluster_fixture::owner_among(big, names);
  channel_id dm;
  for (int i = 0; !dm.value; ++i) {
    auto c = db.create_channel(ws, "dm-" + std::to_string(i), {u1, u2});
    if (cluster_fixture::owner_among(c, names) == owner)
      dm = c;
  }
  auto peer = owner == "n1" ? "n2" : "n1";
  cluster_fixture fx{db, names, limits};
  auto sender = fx.join(owner, principal{ws, u1});
  auto slow = fx.join(peer, principal{ws, u2});
  auto& circuits = *fx.node(owner).actors.circuits;
  auto& counters = *fx.node(owner).actors.env.counters;
  stuck_actor gw{fx, fx.node(peer).actors.gateway};
  auto news = [&](channel_id ch) {
    std::vector<uint64_t> out;
    for (auto& f : filter(slow.sink->frames(), "message.new"))
      if (f["channel_id"] == ch.str())
        out.push_back(f["channel_seq"].get<uint64_t>());
    return out;
  };

  // The peer is busy: it confirms the large channel's first message after 100 ms. (A second
  // after the presence updates of the joins, so that this delivery is the confirmed one.)
  fx.advance(1s);
  fx.inject(sender, send_frame(big, "one", "b1"));
  gw.run();
  gw.advance(100ms);
  fx.run();
  CHECK(circuits.of(peer, 1, 10s)->slow());
  CHECK(news(big) == std::vector<uint64_t>{1});

  // Slow: the large channel sends it no message but a cursor within the cursor interval;
  // the DM keeps real-time push. Nothing is skipped, the circuit stays closed.
  auto cursor_fanouts = counters.cursor_fanouts.load();
  fx.inject(sender, send_frame(big, "two", "b2"));
  fx.inject(sender, send_frame(dm, "dm one", "d1"));
  fx.run();
  CHECK(news(dm) == std::vector<uint64_t>{1});
  CHECK(news(big) == std::vector<uint64_t>{1});
  CHECK(counters.cursor_fanouts - cursor_fanouts == 1);
  fx.advance(limits.cursor_interval);
  auto cursors = filter(slow.sink->frames(), "channel.cursor");
  REQUIRE(cursors.size() == 1);
  CHECK(cursors[0]["channel_id"] == big.str());
  CHECK(cursors[0]["latest_seq"] == 2);
  // That cursor's confirmation came in time: the peer is not slow any more.
  CHECK_FALSE(circuits.of(peer, 1, 10s)->slow());

  fx.inject(sender, send_frame(big, "three", "b3"));
  fx.run();
  CHECK(news(big) == std::vector<uint64_t>{1, 3}); // the client backfills 2 (the cursor said so)
  CHECK(circuits.state_of(peer) == state::closed);
  for (auto& r : circuits.snapshot()) {
    CHECK(r.failures == 0);
    CHECK(r.skipped == 0);
    CHECK(r.deadline_misses == 1);
  }
  CHECK(filter(sender.sink->frames(), "message.ack").size() == 4);
}

TEST_CASE("a zero inter-node deadline turns confirmation and the circuit off",
          "[actors][circuit]") {
  test_db db;
  auto limits = test_limits();
  limits.user_burst = 1000;
  limits.internode_deadline = caf::timespan{0};
  std::vector<std::string> names{"n1", "n2"};
  auto ch = db.create_channel(ws, "c", {u1, u2});
  auto owner = cluster_fixture::owner_among(ch, names);
  auto peer = owner == "n1" ? "n2" : "n1";
  cluster_fixture fx{db, names, limits};
  auto sender = fx.join(owner, principal{ws, u1});
  auto other = fx.join(peer, principal{ws, u2});
  stuck_actor gw{fx, fx.node(peer).actors.gateway};
  auto sent_before = fx.node(owner).actors.env.counters->deliveries_sent_remote.load();
  for (int i = 1; i <= 10; ++i) {
    fx.inject(sender, send_frame(ch, "t", "m" + std::to_string(i)));
    gw.advance(1s);
  }
  // Plain sends: everything waits at the stuck gateway, no circuit was ever consulted.
  CHECK(fx.node(owner).actors.env.counters->deliveries_sent_remote - sent_before == 10);
  CHECK(fx.node(peer).actors.env.counters->deliveries_received == 0);
  CHECK(fx.node(owner).actors.circuits->snapshot().empty());
  fx.run();
  CHECK(fx.node(peer).actors.env.counters->deliveries_received == 10);
  CHECK(new_seqs(other) == iota_seqs(1, 10));
}

} // namespace parley::test

