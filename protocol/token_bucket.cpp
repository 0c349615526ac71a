#include "protocol/token_bucket.hpp"

#include <algorithm>

namespace parley {

namespace {

// Absorbs rounding in elapsed * rate (1e-6 is not exact in binary), so that exactly one
// second at 1 msg/s yields one whole token.
constexpr double epsilon = 1e-9;

} // namespace

token_bucket::token_bucket(double rate_per_s, double burst)
  : rate_per_us_(std::max(rate_per_s, 0.0) / 1e6),
    burst_(std::max(burst, 0.0)),
    tokens_(burst_) {
  // The bucket starts full (docs/architecture.md "Backpressure": burst 5 allows 5 sends at once).
}

bool token_bucket::available(int64_t now_us) {
  if (!started_) {
    started_ = true;
    last_us_ = now_us;
  } else if (now_us > last_us_) {
    // A clock stepping backwards refills nothing and does not move last_us_, so the time
    // is not counted twice once the clock catches up.
    auto elapsed = static_cast<double>(now_us - last_us_);
    tokens_ = std::min(burst_, tokens_ + elapsed * rate_per_us_);
    last_us_ = now_us;
  }
  return tokens_ + epsilon >= 1.0;
}

void token_bucket::take() {
  tokens_ = std::max(0.0, tokens_ - 1.0);
}

} // namespace parley
