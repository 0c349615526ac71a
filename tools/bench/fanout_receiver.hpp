#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/bench/fleet.hpp"
#include "tools/bench/seq_order.hpp"

namespace parley::bench {

/// Receipts of one fanned-out message in one process.
struct receipt {
  size_t received = 0;
  int64_t last_recv_ns = 0;
  std::vector<int64_t> latencies_ns;  // receive time - send time embedded in the payload
};

/// What the members of a fan-out see, in the parent or in a worker: receipts per message
/// index (ids are "f<k>-<tag>"), the publisher's acks and refusals, and protocol anomalies.
class fanout_receiver : public fleet_observer {
public:
  fanout_receiver(std::string room, size_t clients, bool has_seqs);

  void on_ready(size_t client, std::string_view hello_ack) override;
  void on_frame(size_t client, const scanned_frame& f, std::string_view raw,
                int64_t recv_ns) override;

  /// The id of message k of this run.
  static std::string message_id(uint64_t k, uint64_t tag);

  /// Receipts of message k so far (zero when none arrived).
  size_t received(uint64_t k) const;

  /// Messages with at least `expected` receipts that were not taken yet.
  std::vector<uint64_t> complete(size_t expected) const;

  /// Hands over the receipts of k; later receipts of k count as late.
  receipt take(uint64_t k);

  /// Publisher side: first ack time of message k (0 if none) and whether an error refused it.
  int64_t ack_ns(uint64_t k) const;
  uint64_t ack_seq(uint64_t k) const;
  bool refused(uint64_t k) const { return refused_.count(k) > 0; }

  /// Anomaly and error counters as JSON (summed over processes by the parent).
  nlohmann::json counters() const;

private:
  std::string room_;
  bool has_seqs_;
  seq_order seqs_;
  std::map<uint64_t, receipt> open_;
  std::set<uint64_t> taken_;
  std::map<uint64_t, std::pair<int64_t, uint64_t>> acks_;  // k -> (recv ns, seq)
  std::set<uint64_t> refused_;
  uint64_t late_ = 0, cursors_ = 0, membership_missing_ = 0;
  uint64_t foreign_ = 0;
  std::map<std::string, uint64_t> errors_;
};

/// Sums the counters of several processes.
nlohmann::json merge_counters(const std::vector<nlohmann::json>& parts);

} // namespace parley::bench
