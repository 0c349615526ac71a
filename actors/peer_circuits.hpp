#pragma once

#include <cstdint>
#include <map>
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
  uint64_t deadline_misses = 0; // deliveries not confirmed within the deadline
  uint64_t skipped = 0;         // deliveries not sent because the circuit was open
  uint64_t probes = 0;          // deliveries let through to test an open circuit
};

/// The circuit breakers of this node's delivery paths to its peers, one per peer node name,
/// shared by every channel actor of the node (docs/architecture.md "Backpressure", layer 3):
/// failures reported by any channel count for the peer. A short mutex, no I/O; entries are created
/// on first use and kept (one per peer of the cluster file, so the label set stays bounded).
class peer_circuits {
public:
  /// Asks whether a delivery to `peer` may go out at `now`; `threshold` and `probe_interval`
  /// configure the breaker when this is the first delivery to `peer`.
  circuit_breaker::verdict attempt(const std::string& peer, circuit_breaker::time_point now,
                                   uint32_t threshold, circuit_breaker::duration probe_interval);

  /// A delivery to `peer` was confirmed within its deadline.
  void succeeded(const std::string& peer);

  /// A delivery to `peer` missed its deadline at `now`.
  void failed(const std::string& peer, circuit_breaker::time_point now);

  /// When the open circuit of `peer` lets its next probe through.
  circuit_breaker::time_point next_probe(const std::string& peer);

  /// The state of `peer` (closed if unknown).
  circuit_breaker::state state_of(const std::string& peer);

  /// Every known peer, by name.
  std::vector<peer_circuit_row> snapshot();

private:
  struct entry {
    circuit_breaker breaker;
    uint64_t misses = 0;
    uint64_t skipped = 0;
    uint64_t probes = 0;
  };

  std::mutex mtx_;
  std::map<std::string, entry> peers_;
};

} // namespace parley
