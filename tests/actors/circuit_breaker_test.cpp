// The inter-node circuit breaker as a pure state machine (docs/architecture.md "Backpressure",
// layer 3): open after N consecutive failures, one probe per interval while open, closed by a probe
// that succeeds. Time is a plain time_point moved by hand.

#include <catch2/catch.hpp>

#include <chrono>

#include "actors/circuit_breaker.hpp"
#include "actors/peer_circuits.hpp"

using namespace parley;
using namespace std::chrono_literals;
using state = circuit_breaker::state;
using verdict = circuit_breaker::verdict;

namespace {

const circuit_breaker::time_point t0 = circuit_breaker::time_point{} + 1h;

} // namespace

TEST_CASE("circuit breaker opens after the threshold of consecutive failures, not before",
          "[actors][circuit]") {
  circuit_breaker cb{5, 10s};
  for (int i = 0; i < 4; ++i) {
    CHECK(cb.attempt(t0) == verdict::send);
    CHECK_FALSE(cb.failed(t0));
  }
  CHECK(cb.current() == state::closed);
  CHECK(cb.consecutive_failures() == 4);
  CHECK(cb.failed(t0 + 1ms));
  CHECK(cb.current() == state::open);
  CHECK(cb.attempt(t0 + 2ms) == verdict::skip);
  CHECK(cb.attempt(t0 + 1ms + 10s - 1ns) == verdict::skip);
}

TEST_CASE("circuit breaker: a success resets the count of consecutive failures",
          "[actors][circuit]") {
  circuit_breaker cb{3, 10s};
  cb.failed(t0);
  cb.failed(t0);
  CHECK_FALSE(cb.succeeded());
  CHECK(cb.consecutive_failures() == 0);
  cb.failed(t0);
  cb.failed(t0);
  CHECK(cb.current() == state::closed);
  CHECK(cb.failed(t0));
  CHECK(cb.current() == state::open);
}

TEST_CASE("circuit breaker lets exactly one probe through per interval while open and closes "
          "when it succeeds",
          "[actors][circuit]") {
  circuit_breaker cb{1, 10s};
  REQUIRE(cb.failed(t0));
  CHECK(cb.next_probe() == t0 + 10s);
  CHECK(cb.attempt(t0 + 10s) == verdict::probe);
  CHECK(cb.current() == state::half_open);
  // While the probe is out nothing else goes.
  CHECK(cb.attempt(t0 + 10s) == verdict::skip);
  CHECK(cb.attempt(t0 + 15s) == verdict::skip);

  SECTION("a successful probe closes the circuit") {
    CHECK(cb.succeeded());
    CHECK(cb.current() == state::closed);
    CHECK(cb.consecutive_failures() == 0);
    CHECK(cb.attempt(t0 + 10s) == verdict::send);
  }
  SECTION("a failed probe reopens it until the next interval") {
    CHECK(cb.failed(t0 + 10s + 50ms));
    CHECK(cb.current() == state::open);
    CHECK(cb.attempt(t0 + 20s) == verdict::skip);
    CHECK(cb.attempt(t0 + 20s + 50ms) == verdict::probe);
  }
  SECTION("a probe whose answer never comes is replaced one interval later") {
    CHECK(cb.attempt(t0 + 20s) == verdict::probe);
    CHECK(cb.current() == state::half_open);
  }
}

TEST_CASE("circuit breaker ignores late confirmations while open: the probe decides",
          "[actors][circuit]") {
  circuit_breaker cb{2, 10s};
  cb.failed(t0);
  cb.failed(t0);
  REQUIRE(cb.current() == state::open);
  CHECK_FALSE(cb.succeeded());
  CHECK(cb.current() == state::open);
  CHECK_FALSE(cb.failed(t0 + 1s)); // a stale miss does not push the probe back
  CHECK(cb.attempt(t0 + 10s) == verdict::probe);
}

TEST_CASE("circuit breaker treats a threshold of 0 as 1", "[actors][circuit]") {
  circuit_breaker cb{0, 1s};
  CHECK(cb.failed(t0));
  CHECK(cb.current() == state::open);
  CHECK(to_string(cb.current()) == std::string{"open"});
}

TEST_CASE("a peer's shared circuit follows the breaker through its lock-free fast path",
          "[actors][circuit]") {
  peer_circuits all;
  auto c = all.of("n2", 2, 10s);
  REQUIRE(all.of("n2", 9, 1s) == c); // one circuit per peer, configured on first use
  CHECK(c->attempt(t0) == verdict::send);
  c->unanswered(t0, t0 + 2s);
  CHECK(c->state() == state::closed);
  c->confirmed(t0 + 2s, false); // resets the count: two more failures are needed
  c->unanswered(t0 + 3s, t0 + 5s);
  CHECK(c->state() == state::closed);
  c->unanswered(t0 + 3s, t0 + 5s);
  CHECK(c->state() == state::open);
  CHECK(all.state_of("n2") == state::open);
  CHECK_FALSE(c->admits()); // channels skip (counted) while the circuit is not closed
  CHECK(c->attempt(t0 + 6s) == verdict::skip); // the outbox's probe is not due yet
  CHECK(c->attempt(t0 + 15s) == verdict::probe);
  CHECK(c->state() == state::half_open);
  CHECK_FALSE(c->admits());
  c->confirmed(t0 + 15s, false);
  CHECK(c->state() == state::closed);
  CHECK(c->admits());
  CHECK(c->attempt(t0 + 16s) == verdict::send);
  auto rows = all.snapshot();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].peer == "n2");
  CHECK(rows[0].failures == 3);
  CHECK(rows[0].deadline_misses == 0);
  CHECK(rows[0].skipped == 2);
  CHECK(rows[0].probes == 1);
  CHECK(all.state_of("n3") == state::closed); // unknown peers read as closed
}

TEST_CASE("busy is not dead: a peer that confirms late is slow, and an unanswered confirmation "
          "fails only if the peer confirmed nothing since it was asked",
          "[actors][circuit]") {
  peer_circuits all;
  auto c = all.of("n2", 1, 10s);
  CHECK_FALSE(c->slow());
  c->confirmed(t0 + 1s, true); // late
  CHECK(c->slow());
  CHECK(c->last_progress() == t0 + 1s);
  c->unanswered(t0 + 500ms, t0 + 3s); // asked before the last confirmation: busy, alive
  CHECK(c->state() == state::closed);
  c->confirmed(t0 + 2s, false); // in time again
  CHECK_FALSE(c->slow());
  CHECK(c->last_progress() == t0 + 2s);
  c->asking(t0 + 2s); // a confirmation out for longer than the deadline: slow already
  CHECK_FALSE(c->slow(t0 + 2s + 50ms, 50ms));
  CHECK(c->slow(t0 + 2s + 51ms, 50ms));
  CHECK_FALSE(c->slow()); // the latest confirmation itself was in time
  c->unanswered(t0 + 2s, t0 + 4s); // nothing since it was asked: dead
  CHECK_FALSE(c->slow(t0 + 5s, 50ms)); // no confirmation is out any more
  CHECK(c->state() == state::open);
  auto rows = all.snapshot();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].deadline_misses == 1);
  CHECK(rows[0].failures == 1);
}
