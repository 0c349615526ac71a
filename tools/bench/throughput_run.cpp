#include "tools/bench/throughput_run.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace parley::bench {

namespace {

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

} // namespace

throughput_share make_share(const options& o, size_t first, std::vector<std::string> ids) {
  throughput_share s;
  s.first = first;
  s.channel_ids = std::move(ids);
  size_t n = s.channel_ids.size();
  for (size_t c = 0; c < n; ++c)
    for (size_t m = 0; m < o.members; ++m)
      s.client_channel.push_back(c);
  s.total_senders = o.senders;
  for (size_t k = 0; k < o.senders; ++k) {
    size_t channel = k % o.channels;
    if (channel < first || channel >= first + n)
      continue;
    size_t local = channel - first;
    s.senders.push_back({k, local, local * o.members + (k / o.channels) % o.members});
  }
  return s;
}

void add_share_clients(fleet& f, const options& o, uint64_t base, const throughput_share& s) {
  bool peers = !f.protocol().has_seqs();
  size_t nodes = o.nodes.size();
  for (size_t i = 0; i < s.client_channel.size(); ++i) {
    size_t c = s.first + s.client_channel[i];
    size_t g = c * o.members + i % o.members;
    // The fleet picks node and source by global index modulo their counts: for a peer,
    // g * nodes + c % nodes lands every member of channel c on node c mod N.
    size_t global = peers && nodes > 1 ? g * nodes + c % nodes : g;
    f.add(base + g, s.channel_ids[s.client_channel[i]], global);
  }
}

throughput_run::throughput_run(const options& o, throughput_share share)
  : o_(o), proto_(*parse_target(o.target)), channel_ids_(std::move(share.channel_ids)),
    client_channel_(std::move(share.client_channel)), channel_ready_(channel_ids_.size(), 0),
    seqs_(client_channel_.size()), local_sender_(share.total_senders, -1) {
  for (auto& at : share.senders) {
    local_sender_[at.global] = static_cast<int64_t>(senders_.size());
    sender s;
    s.global = at.global;
    s.channel = at.channel;
    s.client = at.client;
    senders_.push_back(std::move(s));
  }
}

void throughput_run::on_ready(size_t client, std::string_view hello_ack) {
  ++channel_ready_[client_channel_[client]];
  if (proto_.has_seqs() && !hello_ack_lists(hello_ack, channel_ids_[client_channel_[client]]))
    ++membership_missing_;
}

void throughput_run::on_closed(size_t client, const std::string&) {
  --channel_ready_[client_channel_[client]];
}

void throughput_run::on_frame(size_t client, const scanned_frame& f, std::string_view,
                              int64_t recv_ns) {
  switch (f.kind) {
    case frame_kind::message_new: on_new(client, f, recv_ns); break;
    case frame_kind::message_ack: on_ack(f, recv_ns); break;
    case frame_kind::error: on_error(f); break;
    case frame_kind::channel_cursor: ++cursors_; break;
    default: break;
  }
}

void throughput_run::pump_all(int64_t now) {
  for (size_t k = 0; k < senders_.size(); ++k)
    pump(k, now);
}

void throughput_run::pump(size_t k, int64_t now) {
  if (now >= end_ns_ || now < start_ns_)
    return;
  auto& s = senders_[k];
  size_t due = SIZE_MAX;
  if (o_.rate > 0) {
    // Senders are phase-shifted over one period (by their global number), so K paced senders
    // offer a steady K x rate instead of K messages at once every period.
    double phase = static_cast<double>(s.global % o_.senders) / static_cast<double>(o_.senders);
    double elapsed = static_cast<double>(now - start_ns_) / 1e9;
    double periods = elapsed * o_.rate - phase;
    if (periods < 0)
      return;
    due = static_cast<size_t>(std::floor(periods)) + 1;
  }
  while (s.inflight < o_.window && s.sent.size() < due) {
    if (!fleet_->ready(s.client))
      return;
    send_one(k, now);
  }
}

void throughput_run::send_one(size_t k, int64_t now) {
  auto& s = senders_[k];
  size_t n = s.sent.size();
  std::string id = "b" + std::to_string(s.global) + "-" + std::to_string(n);
  // The send time travels in the payload; receivers measure against it.
  std::string payload = make_payload(id, now, o_.text_bytes);
  sent_message m;
  m.send_ns = now;
  m.expected = static_cast<uint32_t>(channel_ready_[s.channel]);
  s.sent.push_back(m);
  ++s.inflight;
  ++unresolved_;
  deliveries_outstanding_ += m.expected;
  fleet_->send(s.client, std::make_shared<const std::string>(
                           proto_.send_frame(channel_ids_[s.channel], id, payload)));
}

throughput_run::sent_message* throughput_run::find(std::string_view id, size_t& k) {
  size_t global = 0, n = 0;
  if (!parse_msg_id(id, global, n) || global >= local_sender_.size() || local_sender_[global] < 0)
    return nullptr;
  k = static_cast<size_t>(local_sender_[global]);
  if (n >= senders_[k].sent.size())
    return nullptr;
  return &senders_[k].sent[n];
}

void throughput_run::on_new(size_t client, const scanned_frame& f, int64_t recv_ns) {
  // Per-connection order (docs/protocol.md "Fan-out": in seq order): the channels are new, so
  // the first message is seq 1 and every later one is last + 1.
  if (proto_.has_seqs())
    seqs_.see(client, f.seq);
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
  // docs/protocol.md "Fan-out": the ack goes to the sender before message.new (Parley
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

void throughput_run::on_ack(const scanned_frame& f, int64_t recv_ns) {
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

void throughput_run::on_error(const scanned_frame& f) {
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

nlohmann::json throughput_run::counters() const {
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
  return {{"sent", sent},
          {"acked", acked_},
          {"acked_in_window", acked_in_window_},
          {"refused", refused},
          {"unacked", unacked},
          {"deliveries", delivered_},
          {"deliveries_in_window", delivered_in_window_},
          {"misses", misses},
          {"errors", errors_},
          {"seq_gaps", seqs_.gaps()},
          {"order_violations", seqs_.violations()},
          {"wrong_channel", wrong_channel_},
          {"unknown_deliveries", unknown_deliveries_},
          {"deliveries_of_refused", unexpected_deliveries_},
          {"unexpected_acks", unexpected_acks_},
          {"cursors", cursors_},
          {"membership_missing_in_hello_ack", membership_missing_},
          {"sender_got_new_before_ack", new_before_ack_}};
}

std::string encode_samples(const latency_recorder& ack, const latency_recorder& delivery) {
  // Four u64 (counts, dropped) then the int64 nanosecond samples of both recorders.
  uint64_t head[4] = {ack.samples().size(), delivery.samples().size(), ack.dropped(),
                      delivery.dropped()};
  std::string out(reinterpret_cast<const char*>(head), sizeof head);
  out.append(reinterpret_cast<const char*>(ack.samples().data()), ack.samples().size() * 8);
  out.append(reinterpret_cast<const char*>(delivery.samples().data()),
             delivery.samples().size() * 8);
  return out;
}

bool decode_samples(std::string_view body, latency_recorder& ack, latency_recorder& delivery) {
  uint64_t head[4];
  if (body.size() < sizeof head)
    return false;
  std::memcpy(head, body.data(), sizeof head);
  if (body.size() != sizeof head + (head[0] + head[1]) * 8)
    return false;
  const char* p = body.data() + sizeof head;
  for (uint64_t i = 0; i < head[0] + head[1]; ++i, p += 8) {
    int64_t ns;
    std::memcpy(&ns, p, 8);
    (i < head[0] ? ack : delivery).add(ns);
  }
  ack.add_dropped(head[2]);
  delivery.add_dropped(head[3]);
  return true;
}

} // namespace parley::bench
