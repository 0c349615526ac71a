#pragma once

#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace parley::bench {

/// Percentiles of a set of latencies, in milliseconds.
struct latency_summary {
  size_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;

  nlohmann::ordered_json to_json() const;
};

/// Collects latency samples in nanoseconds; bounded (samples past the cap are counted only).
class latency_recorder {
public:
  /// At most `cap` samples are kept (8 bytes each); later ones only bump dropped().
  explicit latency_recorder(size_t cap = 16u << 20) : cap_(cap) {}

  void add(int64_t ns) {
    if (samples_.size() < cap_)
      samples_.push_back(ns < 0 ? 0 : ns);
    else
      ++dropped_;
  }

  size_t size() const { return samples_.size(); }
  size_t dropped() const { return dropped_; }
  const std::vector<int64_t>& samples() const { return samples_; }
  /// Samples another process dropped at its cap (merging workers' recorders).
  void add_dropped(size_t n) { dropped_ += n; }
  void clear() { samples_.clear(); dropped_ = 0; }

  /// Sorts the samples (nearest-rank percentiles) and summarizes them.
  latency_summary summarize();

private:
  std::vector<int64_t> samples_;
  size_t cap_;
  size_t dropped_ = 0;
};

/// Summarizes plain values already in milliseconds (e.g. per-message figures).
latency_summary summarize_ms(std::vector<double> values);

} // namespace parley::bench
