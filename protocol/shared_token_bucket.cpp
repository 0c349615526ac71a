#include "protocol/shared_token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace parley {

shared_token_bucket::shared_token_bucket(double rate_per_s, double burst)
  : interval_ns_(std::max<int64_t>(1, std::llround(1e9 / rate_per_s))),
    tolerance_ns_(std::llround(std::max(1.0, burst) * static_cast<double>(interval_ns_))) {
}

bool shared_token_bucket::try_take(int64_t now_us) {
  auto now = now_us * 1000;
  auto tat = tat_ns_.load(std::memory_order_relaxed);
  for (;;) {
    // A bucket that was idle long enough is full: its arrival time lies in the past.
    auto next = std::max(tat, now) + interval_ns_;
    if (next - now > tolerance_ns_)
      return false;
    if (tat_ns_.compare_exchange_weak(tat, next, std::memory_order_relaxed))
      return true;
  }
}

} // namespace parley
