#include "tools/bench/latency.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace parley::bench {

namespace {

template <class T>
double rank(const std::vector<T>& sorted, double q) {
  // Nearest rank: the smallest value with at least q of the samples at or below it.
  size_t n = sorted.size();
  size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(n)));
  idx = std::min(n, std::max<size_t>(idx, 1)) - 1;
  return static_cast<double>(sorted[idx]);
}

} // namespace

nlohmann::ordered_json latency_summary::to_json() const {
  return {{"count", count}, {"p50_ms", p50}, {"p90_ms", p90},
          {"p99_ms", p99},  {"max_ms", max}, {"mean_ms", mean}};
}

latency_summary latency_recorder::summarize() {
  latency_summary s;
  s.count = samples_.size();
  if (samples_.empty())
    return s;
  std::sort(samples_.begin(), samples_.end());
  constexpr double ms = 1e6;
  s.p50 = rank(samples_, 0.50) / ms;
  s.p90 = rank(samples_, 0.90) / ms;
  s.p99 = rank(samples_, 0.99) / ms;
  s.max = static_cast<double>(samples_.back()) / ms;
  long double sum = std::accumulate(samples_.begin(), samples_.end(), 0.0L);
  s.mean = static_cast<double>(sum / samples_.size()) / ms;
  return s;
}

latency_summary summarize_ms(std::vector<double> values) {
  latency_summary s;
  s.count = values.size();
  if (values.empty())
    return s;
  std::sort(values.begin(), values.end());
  s.p50 = rank(values, 0.50);
  s.p90 = rank(values, 0.90);
  s.p99 = rank(values, 0.99);
  s.max = values.back();
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  return s;
}

} // namespace parley::bench
