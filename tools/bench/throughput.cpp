#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "tools/bench/scenarios.hpp"

namespace parley::bench {

namespace {

/// One sent message; its client_msg_id is "b<sender>-<n>" so receipts find it by index.
struct sent_message {
  int64_t send_ns = 0;
  uint32_t expected = 0;   // ready members of the channel when it was sent
  uint32_t delivered = 0;
  bool acked = false;
  bool refused = false;    // an error frame answered it
};

struct sender {
  size_t client = 0;
  size_t channel = 0;
  size_t inflight = 0;
  std::vector<sent_message> sent;
};

/// Parses "b<k>-<n>" into (k, n).
bool parse_msg_id(std::string_view id, size_t& k, size_t& n) {
  if (id.size() < 4 || id[0] != 'b')
    return false;
  auto dash = id.find('-');
  if (dash == std::string_view::npos)
    return false;
  auto r1 = std::from_chars(id.data() + 1, id.data() + dash, k);
  auto r2 = std::from_chars(id.data() + dash + 1, id.data() + id.size(), n);
  return r1.ec == std::errc() && r2.ec == std::errc() && r2.ptr == id.data() + id.size();
}

class throughput_run : public fleet_observer {
public:
  throughput_run(const options& o, std::vector<std::string> channel_ids,
                 std::vector<size_t> client_channel)
    : o_(o), proto_(*parse_target(o.target)), channel_ids_(std::move(channel_ids)), client_channel_(std::move(client_channel)),
      channel_ready_(channel_ids_.size(), 0), last_seq_(client_channel_.size(), 0) {
  }

  void set_fleet(fleet* f) { fleet_ = f; }
  std::vector<sender>& senders() { return senders_; }

  void on_ready(size_t client, std::string_view hello_ack) override {
    ++channel_ready_[client_channel_[client]];
    if (proto_.has_seqs() && !hello_ack_lists(hello_ack, channel_ids_[client_channel_[client]]))
      ++membership_missing_;
  }

  void on_closed(size_t client, const std::string&) override {
    --channel_ready_[client_channel_[client]];
  }

  void on_frame(size_t client, const scanned_frame& f, std::string_view, int64_t recv_ns) override {
    switch (f.kind) {
      case frame_kind::message_new: on_new(client, f, recv_ns); break;
      case frame_kind::message_ack: on_ack(f, recv_ns); break;
      case frame_kind::error: on_error(f); break;
      case frame_kind::channel_cursor: ++cursors_; break;
      default: break;
    }
  }

  /// Sends what the schedule allows for sender k (window and optional rate).
  void pump(size_t k, int64_t now) {
    if (now >= end_ns_)
      return;
    auto& s = senders_[k];
    size_t due = SIZE_MAX;
    if (o_.rate > 0) {
      double elapsed = static_cast<double>(now - start_ns_) / 1e9;
      due = static_cast<size_t>(std::floor(elapsed * o_.rate)) + 1;
    }
    while (s.inflight < o_.window && s.sent.size() < due) {
      if (!fleet_->ready(s.client))
        return;
      send_one(k, now);
    }
  }

  void start(int64_t start_ns, int64_t end_ns) {
    start_ns_ = start_ns;
    end_ns_ = end_ns;
  }

  bool drained() const {
    return unresolved_ == 0 && deliveries_outstanding_ <= 0;
  }

  ojson finish(double window_s);

  uint64_t delivered() const { return delivered_; }

private:
  void send_one(size_t k, int64_t now) {
    auto& s = senders_[k];
    size_t n = s.sent.size();
    std::string id = "b" + std::to_string(k) + "-" + std::to_string(n);
    // The send time travels in the payload; receivers measure against it.
    std::string payload = make_payload(id, now, o_.text_bytes);
    sent_message m;
    m.send_ns = now;
    m.expected = static_cast<uint32_t>(channel_ready_[s.channel]);
    s.sent.push_back(m);
    ++s.inflight;
    ++unresolved_;
    deliveries_outstanding_ += m.expected;
    fleet_->send(s.client,
                 std::make_shared<const std::string>(proto_.send_frame(channel_ids_[s.channel], id, payload)));
  }

  sent_message* find(std::string_view id, size_t& k) {
    size_t n = 0;
    if (!parse_msg_id(id, k, n) || k >= senders_.size() || n >= senders_[k].sent.size())
      return nullptr;
    return &senders_[k].sent[n];
  }

  void on_new(size_t client, const scanned_frame& f, int64_t recv_ns) {
    // Per-connection order (DESIGN.md "Fan-out": in seq order): the channels are new, so
    // the first message is seq 1 and every later one is last + 1.
    if (proto_.has_seqs()) {
      auto& last = last_seq_[client];
      if (f.seq <= last)
        ++order_violations_;
      else if (f.seq > last + 1)
        gaps_ += f.seq - last - 1;
      last = std::max(last, f.seq);
    }
    if (f.channel_id != channel_ids_[client_channel_[client]])
      ++wrong_channel_;
    size_t k = 0;
    auto* m = find(f.client_msg_id, k);
    if (!m) {
      ++unknown_deliveries_;
      return;
    }
    if (m->refused) {
      ++unexpected_deliveries_;
      return;
    }
    // DESIGN.md "Rules / Fan-out": the ack goes to the sender before message.new (Parley
    // only: Socket.IO and ws broadcast before they ack).
    if (proto_.has_seqs() && client == senders_[k].client && !m->acked)
      ++new_before_ack_;
    ++m->delivered;
    ++delivered_;
    --deliveries_outstanding_;
    if (recv_ns < end_ns_)
      ++delivered_in_window_;
    // The send time embedded in the payload (every target carries it).
    delivery_.add(recv_ns - (f.send_ns ? f.send_ns : m->send_ns));
  }

  void on_ack(const scanned_frame& f, int64_t recv_ns) {
    size_t k = 0;
    auto* m = find(f.client_msg_id, k);
    if (!m || m->acked || m->refused) {
      ++unexpected_acks_;
      return;
    }
    m->acked = true;
    ++acked_;
    if (recv_ns < end_ns_)
      ++acked_in_window_;
    --unresolved_;
    --senders_[k].inflight;
    ack_.add(recv_ns - m->send_ns);
    pump(k, recv_ns);
  }

  void on_error(const scanned_frame& f) {
    ++errors_[std::string(f.code)];
    size_t k = 0;
    auto* m = find(f.client_msg_id, k);
    if (!m || m->acked || m->refused)
      return;
    m->refused = true;
    --unresolved_;
    --senders_[k].inflight;
    deliveries_outstanding_ -= m->expected - m->delivered;
  }

  const options& o_;
  target_protocol proto_;
  fleet* fleet_ = nullptr;
  std::vector<std::string> channel_ids_;
  std::vector<size_t> client_channel_;
  std::vector<size_t> channel_ready_;
  std::vector<uint64_t> last_seq_;
  std::vector<sender> senders_;
  int64_t start_ns_ = 0, end_ns_ = 0;
  int64_t unresolved_ = 0, deliveries_outstanding_ = 0;
  uint64_t acked_ = 0, acked_in_window_ = 0, delivered_ = 0, delivered_in_window_ = 0;
  uint64_t order_violations_ = 0, gaps_ = 0, wrong_channel_ = 0, unknown_deliveries_ = 0;
  uint64_t unexpected_deliveries_ = 0, unexpected_acks_ = 0, cursors_ = 0;
  uint64_t membership_missing_ = 0, new_before_ack_ = 0;
  std::map<std::string, uint64_t> errors_;
  latency_recorder ack_, delivery_;
};

ojson throughput_run::finish(double window_s) {
  uint64_t sent = 0, refused = 0, unacked = 0, misses = 0;
  for (auto& s : senders_)
    for (auto& m : s.sent) {
      ++sent;
      if (m.refused)
        ++refused;
      else if (!m.acked)
        ++unacked;
      if (!m.refused && m.delivered < m.expected)
        misses += m.expected - m.delivered;
    }
  auto ack = ack_.summarize();
  auto del = delivery_.summarize();
  ojson j;
  j["sent"] = sent;
  j["acked"] = acked_;
  j["refused"] = refused;
  j["unacked"] = unacked;
  j["acked_per_s"] = static_cast<double>(acked_in_window_) / window_s;
  j["deliveries"] = delivered_;
  j["deliveries_per_s"] = static_cast<double>(delivered_in_window_) / window_s;
  j["ack_latency"] = ack.to_json();
  j["delivery_latency"] = del.to_json();
  j["misses"] = misses;
  j["errors"] = errors_;
  j["seq_gaps"] = gaps_;
  j["order_violations"] = order_violations_;
  j["wrong_channel"] = wrong_channel_;
  j["unknown_deliveries"] = unknown_deliveries_;
  j["deliveries_of_refused"] = unexpected_deliveries_;
  j["unexpected_acks"] = unexpected_acks_;
  j["cursors"] = cursors_;
  j["membership_missing_in_hello_ack"] = membership_missing_;
  j["sender_got_new_before_ack"] = new_before_ack_;

  std::printf("throughput [%s] (%.1f s send window)\n", proto_.name(), window_s);
  print_row("sent / acked / refused / unacked",
            strf("%llu / %llu / %llu / %llu", (unsigned long long)sent, (unsigned long long)acked_,
                 (unsigned long long)refused, (unsigned long long)unacked));
  print_row("acked msgs/s", strf("%.0f", j["acked_per_s"].get<double>()));
  print_row("deliveries/s", strf("%.0f", j["deliveries_per_s"].get<double>()));
  print_latency("ack latency", ack);
  print_latency("delivery latency", del);
  print_row("misses", strf("%llu", (unsigned long long)misses));
  for (auto& [code, n] : errors_)
    print_row("error " + code, strf("%llu", (unsigned long long)n));
  if (gaps_ || order_violations_ || wrong_channel_ || unknown_deliveries_ || unexpected_deliveries_
      || unexpected_acks_ || membership_missing_)
    print_row("PROTOCOL ANOMALIES",
              strf("gaps %llu, order %llu, wrong channel %llu, unknown %llu, refused delivered "
                   "%llu, unexpected acks %llu, hello_ack w/o channel %llu",
                   (unsigned long long)gaps_, (unsigned long long)order_violations_,
                   (unsigned long long)wrong_channel_, (unsigned long long)unknown_deliveries_,
                   (unsigned long long)unexpected_deliveries_, (unsigned long long)unexpected_acks_,
                   (unsigned long long)membership_missing_));
  if (new_before_ack_)
    print_row("sender saw message.new before ack", strf("%llu", (unsigned long long)new_before_ack_));
  if (errors_.count("rate_limited"))
    std::fprintf(stderr,
                 "warning: the node refused sends with rate_limited; start it with\n  %s\n",
                 bench_node_flags);
  return j;
}

} // namespace

ojson run_throughput(const options& o, admin_api* admin) {
  uint64_t base = choose_user_base(o);
  std::vector<std::string> channel_ids;
  std::vector<size_t> client_channel;
  std::vector<uint64_t> client_user;
  for (size_t c = 0; c < o.channels; ++c) {
    std::vector<uint64_t> members;
    for (size_t m = 0; m < o.members; ++m) {
      members.push_back(base + c * o.members + m);
      client_user.push_back(members.back());
      client_channel.push_back(c);
    }
    std::string name = "bench-" + std::to_string(base) + "-" + std::to_string(c);
    channel_ids.push_back(admin ? admin->create_channel(o.workspace, name, members) : name);
    if (o.channels >= 100 && (c + 1) % 100 == 0)
      std::fprintf(stderr, "\rcreating channels: %zu/%zu", c + 1, o.channels);
  }
  if (o.channels >= 100)
    std::fprintf(stderr, "\n");

  boost::asio::io_context io(1);
  throughput_run run(o, channel_ids, client_channel);
  fleet f(io, make_fleet_config(o), run);
  run.set_fleet(&f);
  for (size_t i = 0; i < client_user.size(); ++i)
    f.add(client_user[i], channel_ids[client_channel[i]], i);
  // Sender k: channel k mod C, member (k / C) mod S, so senders spread over channels first.
  for (size_t k = 0; k < o.senders; ++k) {
    sender s;
    s.channel = k % o.channels;
    s.client = s.channel * o.members + (k / o.channels) % o.members;
    run.senders().push_back(std::move(s));
  }

  ojson out;
  out["target"] = o.target;
  out["users_from"] = base;
  out["connect"] = connect_phase(f, o);

  auto cpu0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  int64_t start = now_ns();
  int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  run.start(start, end);
  auto until_end = steady::now() + std::chrono::nanoseconds(end - start);
  std::fprintf(stderr, "sending for %.1f s ...\n", o.duration_s);
  f.run_until(
    [&] {
      int64_t now = now_ns();
      for (size_t k = 0; k < run.senders().size(); ++k)
        run.pump(k, now);
      return false;
    },
    until_end);
  bool drained = f.run_until([&] { return run.drained(); },
                             steady::now() + std::chrono::milliseconds(
                                               static_cast<int64_t>(o.drain_s * 1000)));
  double wall = static_cast<double>(now_ns() - start) / 1e9;
  auto cpu1 = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();

  out["params"] = {{"channels", o.channels}, {"members", o.members}, {"senders", o.senders},
                   {"duration_s", o.duration_s}, {"rate_per_sender", o.rate},
                   {"window", o.window}, {"text_bytes", o.text_bytes}};
  out["results"] = run.finish(o.duration_s);
  out["results"]["drained"] = drained;
  if (!drained)
    print_row("warning", strf("not drained after %.1f s (--drain): misses are counted", o.drain_s));
  out["cost"] = node_cost(o, cpu0, cpu1, run.delivered(), self1 - self0, wall);
  out["closed_during_run"] = f.closed_after_ready();
  out["close_reasons"] = f.close_reasons();
  if (f.closed_after_ready() > 0) {
    print_row("connections closed by node", strf("%llu", (unsigned long long)f.closed_after_ready()));
    for (auto& [why, n] : f.close_reasons())
      print_row("  reason", strf("%zu x %s", n, why.c_str()));
  }
  out["frames"] = frames_json(f);
  f.close_all();
  return out;
}

} // namespace parley::bench
