#pragma once

#include <chrono>
#include <cstdint>

namespace parley {

/// The inter-node circuit breaker of one peer node (docs/architecture.md "Backpressure", layer 3),
/// as a pure state machine: no actors, no clock of its own, no locking. The caller reports each
/// confirmed or missed delivery and asks before each delivery whether it may be sent.
///
///   closed    --`threshold` consecutive failures-->   open
///   open      --`probe_interval` elapsed, attempt-->  half_open (that one attempt is the probe)
///   half_open --success-->                            closed
///   half_open --failure-->                            open (next probe one interval later)
class circuit_breaker {
public:
  using clock = std::chrono::steady_clock;
  using time_point = clock::time_point;
  using duration = clock::duration;

  /// The state; the values are those of the `parley_circuit_state` gauge.
  enum class state : uint8_t { closed = 0, open = 1, half_open = 2 };

  /// What to do with one delivery.
  enum class verdict : uint8_t {
    send,  // closed: deliver
    probe, // the single delivery let through to test an open circuit: deliver and confirm
    skip,  // open (or a probe is out): do not deliver
  };

  /// `threshold` consecutive failures open the circuit (at least 1); an open circuit lets
  /// one probe through every `probe_interval`.
  explicit circuit_breaker(uint32_t threshold = 5,
                           duration probe_interval = std::chrono::seconds(10));

  /// Asks whether a delivery may go out at `now` (may move open -> half_open).
  verdict attempt(time_point now);

  /// A delivery was confirmed in time. Returns true if the state changed.
  bool succeeded();

  /// A delivery missed its deadline (or failed) at `now`. Returns true if the state changed.
  bool failed(time_point now);

  state current() const { return state_; }

  /// When an open circuit lets its next probe through.
  time_point next_probe() const { return next_probe_; }

  /// Failures since the last success (reset when the circuit closes).
  uint32_t consecutive_failures() const { return failures_; }

private:
  uint32_t threshold_;
  duration probe_interval_;
  state state_ = state::closed;
  uint32_t failures_ = 0;
  time_point next_probe_{};
};

/// "closed", "open" or "half_open".
const char* to_string(circuit_breaker::state s);

} // namespace parley
