#pragma once

#include <chrono>
#include <cstdint>

namespace parley {

/// Microseconds since the Unix epoch on the wall clock: the one clock of message and event
/// timestamps, stored `*_at` columns and token expiry checks. (Rate limits run on the actor
/// clock instead, which deterministic tests move by hand.)
inline int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace parley
