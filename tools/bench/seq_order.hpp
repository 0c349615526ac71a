#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::bench {

/// Per-connection seq order (docs/protocol.md "Fan-out": each connection gets a channel's messages
/// in seq order): on new channels a client's next seq is its last + 1.
class seq_order {
public:
  explicit seq_order(size_t clients) : last_(clients, 0) {}

  /// Counts a repeat or step back as an order violation and a skip as gaps.
  void see(size_t client, uint64_t seq) {
    auto& last = last_[client];
    if (seq <= last)
      ++violations_;
    else if (seq > last + 1)
      gaps_ += seq - last - 1;
    last = std::max(last, seq);
  }

  uint64_t gaps() const { return gaps_; }
  uint64_t violations() const { return violations_; }

private:
  std::vector<uint64_t> last_;
  uint64_t gaps_ = 0, violations_ = 0;
};

} // namespace parley::bench
