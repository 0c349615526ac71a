#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actors/circuit_breaker.hpp"

namespace parley {

/// One peer's circuit as /metrics and the admin inspect JSON show it.
struct peer_circuit_row {
  std::string peer;
  circuit_breaker::state state = circuit_breaker::state::closed;
  uint32_t consecutive_failures = 0;
  uint64_t deadline_misses = 0; // confirmations later than the deadline (a slow peer)
  uint64_t failures = 0;        // confirmations that never came, with no progress at all
  uint64_t skipped = 0;         // deliveries not sent because the circuit was open
  uint64_t probes = 0;          // batches let through to test an open circuit
};

/// The circuit of this node's delivery path to one peer node: the peer's outbox reports its
/// confirmations and failures, every channel actor of the node reads whether it may deliver
/// and whether the peer is slow. While the circuit is closed and has no failures (a healthy
/// peer), reading and confirming take no lock; only failures and an open circuit take the
/// short mutex.
class peer_circuit {
public:
  peer_circuit(uint32_t threshold, circuit_breaker::duration probe_interval)
    : breaker_(threshold, probe_interval) {}

  /// Whether a channel may hand a delivery to the peer: only while the circuit is closed (the
  /// peer's outbox sends the probes). Counts a skipped delivery otherwise.
  bool admits();

  /// The peer's outbox asks whether its probe may go out at `now`.
  circuit_breaker::verdict attempt(circuit_breaker::time_point now);

  /// The outbox asked for a confirmation at `at`.
  void asking(circuit_breaker::time_point at);

  /// A delivery was confirmed at `now`; `late`: after the deadline. Any confirmation is
  /// progress; the latest one's lateness says whether the peer is slow.
  void confirmed(circuit_breaker::time_point now, bool late);

  /// The peer's latest confirmation was late: it is busy, not dead.
  bool slow() const { return slow_.load(std::memory_order_acquire); }

  /// Slow at `now`: the latest confirmation was late, or the one asked for is out for longer
  /// than `deadline`.
  bool slow(circuit_breaker::time_point now, circuit_breaker::duration deadline) const;

  /// When the peer last confirmed anything to any channel of this node.
  circuit_breaker::time_point last_progress() const {
    return circuit_breaker::time_point{
      circuit_breaker::duration{last_progress_.load(std::memory_order_acquire)}};
  }

  /// A confirmation asked at `asked` never came, and the peer confirmed nothing since: a
  /// failure of the circuit (none if it made progress meanwhile: slow, not dead).
  void unanswered(circuit_breaker::time_point asked, circuit_breaker::time_point now);

  /// When an open circuit lets its next probe through.
  circuit_breaker::time_point next_probe();

  circuit_breaker::state state() const { return state_.load(std::memory_order_acquire); }

  peer_circuit_row row(const std::string& peer);

private:
  void publish(); // under mtx_: mirrors the breaker into the atomics

  std::atomic<circuit_breaker::state> state_{circuit_breaker::state::closed};
  std::atomic<bool> clean_{true}; // closed with no failures since the last success
  std::mutex mtx_;
  circuit_breaker breaker_;
  uint64_t failures_ = 0;
  std::atomic<uint64_t> misses_{0};
  std::atomic<bool> slow_{false};
  std::atomic<circuit_breaker::duration::rep> asked_{0}; // 0: no confirmation is out
  std::atomic<circuit_breaker::duration::rep> last_progress_{0};
  std::atomic<uint64_t> skipped_{0};
  std::atomic<uint64_t> probes_{0};
};

/// The circuits of this node toward its peers (docs/architecture.md "Backpressure", layer 3),
/// one per peer node name, created on first use and kept (one per peer of the cluster file, so
/// the label set stays bounded). A channel looks a peer's circuit up once, when it first
/// delivers to that peer, and keeps it.
class peer_circuits {
public:
  /// The circuit of `peer`; `threshold` and `probe_interval` configure it if it is new.
  std::shared_ptr<peer_circuit> of(const std::string& peer, uint32_t threshold,
                                   circuit_breaker::duration probe_interval);

  /// The state of `peer` (closed if unknown).
  circuit_breaker::state state_of(const std::string& peer);

  /// Every known peer, by name.
  std::vector<peer_circuit_row> snapshot();

private:
  std::mutex mtx_;
  std::map<std::string, std::shared_ptr<peer_circuit>> peers_;
};

} // namespace parley
