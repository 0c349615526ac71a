#pragma once

#include <atomic>
#include <cstdint>

namespace parley {

/// A token bucket that many threads take from without a lock: the generic cell rate
/// algorithm (GCRA), one atomic "theoretical arrival time" instead of a token count. It
/// behaves like token_bucket(rate_per_s, burst) and, like it, runs on an explicit clock
/// (microseconds) so tests control time.
class shared_token_bucket {
public:
  shared_token_bucket(double rate_per_s, double burst);

  /// Takes one token if one is available at `now_us`; a refusal takes nothing.
  bool try_take(int64_t now_us);

private:
  int64_t interval_ns_;  // time one token takes to refill
  int64_t tolerance_ns_; // burst * interval: how far ahead of now the arrival time may run
  std::atomic<int64_t> tat_ns_{0};
};

} // namespace parley
