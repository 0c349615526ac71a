#include "actors/circuit_breaker.hpp"

#include <algorithm>

namespace parley {

circuit_breaker::circuit_breaker(uint32_t threshold, duration probe_interval)
  : threshold_(std::max<uint32_t>(1, threshold)), probe_interval_(probe_interval) {
}

circuit_breaker::verdict circuit_breaker::attempt(time_point now) {
  switch (state_) {
    case state::closed:
      return verdict::send;
    case state::open:
      if (now < next_probe_)
        return verdict::skip;
      state_ = state::half_open;
      next_probe_ = now + probe_interval_;
      return verdict::probe;
    case state::half_open:
      // The probe's answer decides. Should its sender vanish without reporting (a channel
      // that passivated), another probe goes out one interval later instead of never.
      if (now < next_probe_)
        return verdict::skip;
      next_probe_ = now + probe_interval_;
      return verdict::probe;
  }
  return verdict::skip;
}

bool circuit_breaker::succeeded() {
  switch (state_) {
    case state::closed:
      failures_ = 0;
      return false;
    case state::open:
      // A late confirmation of a delivery sent before the circuit opened proves little: the
      // probe decides.
      return false;
    case state::half_open:
      state_ = state::closed;
      failures_ = 0;
      return true;
  }
  return false;
}

bool circuit_breaker::failed(time_point now) {
  switch (state_) {
    case state::closed:
      if (++failures_ < threshold_)
        return false;
      state_ = state::open;
      next_probe_ = now + probe_interval_;
      return true;
    case state::open:
      // Deliveries sent before the circuit opened still time out: already counted as open.
      ++failures_;
      return false;
    case state::half_open:
      ++failures_;
      state_ = state::open;
      next_probe_ = now + probe_interval_;
      return true;
  }
  return false;
}

const char* to_string(circuit_breaker::state s) {
  switch (s) {
    case circuit_breaker::state::closed:
      return "closed";
    case circuit_breaker::state::open:
      return "open";
    case circuit_breaker::state::half_open:
      return "half_open";
  }
  return "closed";
}

} // namespace parley
