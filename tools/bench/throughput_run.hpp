#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/bench/common.hpp"
#include "tools/bench/seq_order.hpp"

namespace parley::bench {

/// The share of a throughput run one process holds: whole channels [first, first + count),
/// every member of them and the senders among those members, so the process checks its
/// own deliveries (misses, order, latency) without looking at any other process.
struct throughput_share {
  size_t first = 0;                   // global index of the first channel
  std::vector<std::string> channel_ids;   // the share's channels, local index
  std::vector<size_t> client_channel;     // local client -> local channel
  struct sender_at {
    size_t global = 0;  // sender number over the whole run: ids are "b<global>-<n>"
    size_t channel = 0; // local channel
    size_t client = 0;  // local client
  };
  std::vector<sender_at> senders;
  size_t total_senders = 0;
};

/// Lays out channels [first, first + ids.size()) of the run: S members each; sender k of
/// the run sits in channel k mod C as member (k / C) mod S, so senders spread over channels
/// first and each process gets its proportional part of --senders.
throughput_share make_share(const options& o, size_t first, std::vector<std::string> ids);

/// Adds the share's clients to `f` (users base + c*S + m); peer targets keep each channel's
/// members on one --node (a peer process only knows its own rooms).
void add_share_clients(fleet& f, const options& o, uint64_t base, const throughput_share& s);

/// Senders and receivers of one share: sends what the window and rate allow, matches acks
/// and deliveries to sent messages, counts anomalies, keeps latency samples.
class throughput_run : public fleet_observer {
public:
  throughput_run(const options& o, throughput_share share);

  void set_fleet(fleet* f) { fleet_ = f; }
  void on_ready(size_t client, std::string_view hello_ack) override;
  void on_closed(size_t client, const std::string&) override;
  void on_frame(size_t client, const scanned_frame& f, std::string_view, int64_t recv_ns) override;

  /// The common send window: nothing is sent before `start_ns` or from `end_ns` on.
  void start(int64_t start_ns, int64_t end_ns) {
    start_ns_ = start_ns;
    end_ns_ = end_ns;
  }
  /// Sends what the schedule allows for every sender.
  void pump_all(int64_t now);
  /// Every sent message was acked or refused and reached every expected member.
  bool drained() const { return unresolved_ == 0 && deliveries_outstanding_ <= 0; }
  uint64_t delivered() const { return delivered_; }

  /// Raw counts (summable over processes by merge_counters) and the latency samples.
  nlohmann::json counters() const;
  latency_recorder& ack_samples() { return ack_; }
  latency_recorder& delivery_samples() { return delivery_; }

private:
  struct sent_message {
    int64_t send_ns = 0;
    uint32_t expected = 0;   // ready members of the channel when it was sent
    uint32_t delivered = 0;
    bool acked = false;
    bool refused = false;    // an error frame answered it
  };
  struct sender {
    size_t global = 0, client = 0, channel = 0, inflight = 0;
    std::vector<sent_message> sent;
  };
  void pump(size_t k, int64_t now);
  void send_one(size_t k, int64_t now);
  sent_message* find(std::string_view id, size_t& k);
  void on_new(size_t client, const scanned_frame& f, int64_t recv_ns);
  void on_ack(const scanned_frame& f, int64_t recv_ns);
  void on_error(const scanned_frame& f);

  const options& o_;
  target_protocol proto_;
  fleet* fleet_ = nullptr;
  std::vector<std::string> channel_ids_;
  std::vector<size_t> client_channel_;
  std::vector<size_t> channel_ready_;
  seq_order seqs_;
  std::vector<sender> senders_;
  std::vector<int64_t> local_sender_;  // global sender -> local index, -1 elsewhere
  int64_t start_ns_ = 0, end_ns_ = 0;
  int64_t unresolved_ = 0, deliveries_outstanding_ = 0;
  uint64_t acked_ = 0, acked_in_window_ = 0, delivered_ = 0, delivered_in_window_ = 0;
  uint64_t wrong_channel_ = 0, unknown_deliveries_ = 0;
  uint64_t unexpected_deliveries_ = 0, unexpected_acks_ = 0, cursors_ = 0;
  uint64_t membership_missing_ = 0, new_before_ack_ = 0;
  std::map<std::string, uint64_t> errors_;
  latency_recorder ack_, delivery_;
};

/// Latency samples on the worker pipe: exact percentiles survive the merge.
std::string encode_samples(const latency_recorder& ack, const latency_recorder& delivery);
/// Appends encoded samples to the two recorders; false when the body is malformed.
bool decode_samples(std::string_view body, latency_recorder& ack, latency_recorder& delivery);

} // namespace parley::bench
