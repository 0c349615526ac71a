#include <algorithm>
#include <cstdio>
#include <map>

#include "tools/bench/scenarios.hpp"

namespace parley::bench {

namespace {

/// Figures of one fanned-out message.
struct message_result {
  size_t index = 0;
  uint64_t seq = 0;
  size_t expected = 0;
  latency_summary delivery;
  double ack_ms = -1;
  double last_ms = 0;       // send -> last recipient
  size_t misses = 0;
  double deliveries_per_s = 0;
};

class fanout_run : public fleet_observer {
public:
  fanout_run(std::string channel, size_t clients)
    : channel_(std::move(channel)), last_seq_(clients, 0) {
  }

  void on_ready(size_t, std::string_view hello_ack) override {
    if (!hello_ack_lists(hello_ack, channel_))
      ++membership_missing_;
  }

  void on_frame(size_t client, const scanned_frame& f, std::string_view, int64_t recv_ns) override {
    if (f.kind == frame_kind::error) {
      ++errors_[std::string(f.code)];
      if (f.client_msg_id == current_id_)
        refused_ = true;
      return;
    }
    if (f.kind == frame_kind::channel_cursor) {
      ++cursors_;
      return;
    }
    if (f.kind == frame_kind::message_ack) {
      if (f.client_msg_id == current_id_) {
        ack_ns_ = recv_ns;
        seq_ = f.seq;
      }
      return;
    }
    if (f.kind != frame_kind::message_new)
      return;
    auto& last = last_seq_[client];
    if (f.seq <= last)
      ++order_violations_;
    else if (f.seq > last + 1)
      gaps_ += f.seq - last - 1;
    last = std::max(last, f.seq);
    if (f.client_msg_id != current_id_) {
      ++late_;  // a previous message that missed its timeout
      return;
    }
    latencies_.add(recv_ns - send_ns_);
    all_.add(recv_ns - send_ns_);
    last_recv_ns_ = recv_ns;
    ++received_;
  }

  /// Starts message i: returns the frame to send from the publisher.
  std::shared_ptr<const std::string> begin(size_t i, int64_t now) {
    current_id_ = "f" + std::to_string(i) + "-" + std::to_string(now % 1000000);
    send_ns_ = now;
    ack_ns_ = 0;
    seq_ = 0;
    last_recv_ns_ = 0;
    received_ = 0;
    refused_ = false;
    latencies_.clear();
    nlohmann::json frame = {{"type", "message.send"},
                            {"channel_id", channel_},
                            {"text", "t=" + std::to_string(now)},
                            {"client_msg_id", current_id_}};
    return std::make_shared<const std::string>(frame.dump());
  }

  message_result end(size_t i, size_t expected) {
    message_result r;
    r.index = i;
    r.seq = seq_;
    r.expected = expected;
    r.delivery = latencies_.summarize();
    r.ack_ms = ack_ns_ ? static_cast<double>(ack_ns_ - send_ns_) / 1e6 : -1;
    r.last_ms = last_recv_ns_ ? static_cast<double>(last_recv_ns_ - send_ns_) / 1e6 : 0;
    r.misses = expected > received_ ? expected - received_ : 0;
    r.deliveries_per_s = r.last_ms > 0 ? static_cast<double>(received_) / (r.last_ms / 1e3) : 0;
    return r;
  }

  size_t received() const { return received_; }
  bool refused() const { return refused_; }

  std::string channel_;
  std::vector<uint64_t> last_seq_;
  std::string current_id_;
  int64_t send_ns_ = 0, ack_ns_ = 0, last_recv_ns_ = 0;
  uint64_t seq_ = 0;
  size_t received_ = 0;
  bool refused_ = false;
  latency_recorder latencies_, all_;
  uint64_t gaps_ = 0, order_violations_ = 0, late_ = 0, cursors_ = 0, membership_missing_ = 0;
  std::map<std::string, uint64_t> errors_;
};

} // namespace

ojson run_fanout(const options& o, admin_api& admin) {
  uint64_t base = choose_user_base(o);
  std::vector<uint64_t> members;
  for (size_t i = 0; i < o.members; ++i)
    members.push_back(base + i);
  std::string channel = admin.create_channel(o.workspace, "bench-fanout-" + std::to_string(base),
                                             members);
  boost::asio::io_context io(1);
  fanout_run run(channel, members.size());
  fleet f(io, make_fleet_config(o), run);
  for (auto u : members)
    f.add(u);

  ojson out;
  out["users_from"] = base;
  out["channel_id"] = channel;
  out["connect"] = connect_phase(f, o);
  const size_t publisher = 0;

  std::vector<message_result> results;
  auto cpu0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  int64_t start = now_ns();
  uint64_t delivered = 0;
  std::printf("fanout to %zu members (%zu connected), %zu messages\n", o.members, f.ready_count(),
              o.messages);
  std::printf("  %5s %6s %7s %9s %9s %9s %9s %9s %7s %10s\n", "msg", "seq", "recv", "ack ms",
              "p50 ms", "p90 ms", "p99 ms", "last ms", "misses", "deliv/s");
  for (size_t i = 0; i < o.messages; ++i) {
    if (!f.ready(publisher)) {
      std::fprintf(stderr, "the publisher's connection closed; stopping\n");
      break;
    }
    size_t expected = f.ready_count();
    f.send(publisher, run.begin(i, now_ns()));
    f.run_until([&] { return run.received() >= expected || run.refused(); },
                steady::now() + std::chrono::milliseconds(o.timeout_ms));
    auto r = run.end(i, expected);
    delivered += expected - r.misses;
    std::printf("  %5zu %6llu %7zu %9.3f %9.3f %9.3f %9.3f %9.3f %7zu %10.0f\n", i,
                (unsigned long long)r.seq, expected - r.misses, r.ack_ms, r.delivery.p50,
                r.delivery.p90, r.delivery.p99, r.last_ms, r.misses, r.deliveries_per_s);
    results.push_back(r);
    if (o.pause_ms > 0)
      f.run_for(std::chrono::milliseconds(o.pause_ms));
  }
  double wall = static_cast<double>(now_ns() - start) / 1e9;
  auto cpu1 = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();

  std::vector<double> p50s, p99s, lasts, acks;
  size_t misses = 0;
  ojson per_message = ojson::array();
  for (auto& r : results) {
    p50s.push_back(r.delivery.p50);
    p99s.push_back(r.delivery.p99);
    lasts.push_back(r.last_ms);
    if (r.ack_ms >= 0)
      acks.push_back(r.ack_ms);
    misses += r.misses;
    per_message.push_back({{"msg", r.index}, {"seq", r.seq}, {"expected", r.expected},
                           {"misses", r.misses}, {"ack_ms", r.ack_ms}, {"last_ms", r.last_ms},
                           {"deliveries_per_s", r.deliveries_per_s},
                           {"delivery", r.delivery.to_json()}});
  }
  auto p50_s = summarize_ms(p50s), p99_s = summarize_ms(p99s), last_s = summarize_ms(lasts),
       ack_s = summarize_ms(acks);
  auto overall = run.all_.summarize();
  std::printf("fanout summary over %zu messages\n", results.size());
  print_row("time to last recipient (ms)", strf("median %.3f  p90 %.3f  max %.3f", last_s.p50,
                                                last_s.p90, last_s.max));
  print_row("per-message p50 (ms)", strf("median %.3f  max %.3f", p50_s.p50, p50_s.max));
  print_row("per-message p99 (ms)", strf("median %.3f  max %.3f", p99_s.p50, p99_s.max));
  print_row("ack latency (ms)", strf("median %.3f  max %.3f", ack_s.p50, ack_s.max));
  print_latency("all deliveries", overall);
  print_row("misses / late deliveries", strf("%zu / %llu", misses, (unsigned long long)run.late_));
  for (auto& [code, n] : run.errors_)
    print_row("error " + code, strf("%llu", (unsigned long long)n));
  if (run.gaps_ || run.order_violations_ || run.membership_missing_)
    print_row("PROTOCOL ANOMALIES", strf("gaps %llu, order %llu, hello_ack w/o channel %llu",
                                         (unsigned long long)run.gaps_,
                                         (unsigned long long)run.order_violations_,
                                         (unsigned long long)run.membership_missing_));
  if (run.cursors_)
    print_row("channel.cursor frames", strf("%llu (cursor mode: no message.new expected)",
                                            (unsigned long long)run.cursors_));

  out["params"] = {{"members", o.members}, {"messages", o.messages}, {"pause_ms", o.pause_ms},
                   {"timeout_ms", o.timeout_ms}};
  out["results"] = {{"messages", results.size()},
                    {"last_recipient_ms", last_s.to_json()},
                    {"per_message_p50_ms", p50_s.to_json()},
                    {"per_message_p99_ms", p99_s.to_json()},
                    {"ack_ms", ack_s.to_json()},
                    {"all_deliveries", overall.to_json()},
                    {"deliveries", delivered},
                    {"misses", misses},
                    {"late_deliveries", run.late_},
                    {"errors", run.errors_},
                    {"seq_gaps", run.gaps_},
                    {"order_violations", run.order_violations_},
                    {"cursors", run.cursors_},
                    {"membership_missing_in_hello_ack", run.membership_missing_},
                    {"per_message", per_message}};
  out["cost"] = node_cost(o, cpu0, cpu1, delivered, self1 - self0, wall);
  out["closed_during_run"] = f.closed_after_ready();
  out["close_reasons"] = f.close_reasons();
  if (f.closed_after_ready() > 0)
    for (auto& [why, n] : f.close_reasons())
      print_row("closed by node", strf("%zu x %s", n, why.c_str()));
  out["frames"] = frames_json(f);
  f.close_all();
  return out;
}

} // namespace parley::bench
