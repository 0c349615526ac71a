#pragma once

#include <cstdint>

namespace parley {

/// A token bucket on an explicit clock (microseconds), so tests control time.
class token_bucket {
public:
  token_bucket(double rate_per_s, double burst);

  /// True if one token is available at `now_us` (refills first; takes nothing).
  bool available(int64_t now_us);

  /// Takes one token; call only after `available` returned true.
  void take();

private:
  double rate_per_us_;
  double burst_;
  double tokens_;
  int64_t last_us_ = 0;
  bool started_ = false;
};

} // namespace parley
