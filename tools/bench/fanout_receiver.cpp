#include "tools/bench/fanout_receiver.hpp"

#include <charconv>

#include "tools/bench/common.hpp"

namespace parley::bench {

namespace {

// "f<k>-<tag>" -> k
bool parse_k(std::string_view id, uint64_t& k) {
  if (id.size() < 2 || id[0] != 'f')
    return false;
  auto r = std::from_chars(id.data() + 1, id.data() + id.size(), k);
  return r.ec == std::errc() && (r.ptr == id.data() + id.size() || *r.ptr == '-');
}

} // namespace

fanout_receiver::fanout_receiver(std::string room, size_t clients, bool has_seqs)
  : room_(std::move(room)), has_seqs_(has_seqs), seqs_(clients) {
}

std::string fanout_receiver::message_id(uint64_t k, uint64_t tag) {
  return "f" + std::to_string(k) + "-" + std::to_string(tag % 1000000);
}

void fanout_receiver::on_ready(size_t, std::string_view hello_ack) {
  // Parley lists the member channels in hello_ack; a peer's join ack names nothing to check.
  if (has_seqs_ && !hello_ack_lists(hello_ack, room_))
    ++membership_missing_;
}

void fanout_receiver::on_frame(size_t client, const scanned_frame& f, std::string_view,
                               int64_t recv_ns) {
  uint64_t k = 0;
  switch (f.kind) {
    case frame_kind::error:
      ++errors_[std::string(f.code)];
      if (parse_k(f.client_msg_id, k))
        refused_.insert(k);
      return;
    case frame_kind::channel_cursor: ++cursors_; return;
    case frame_kind::message_ack:
      if (parse_k(f.client_msg_id, k) && !acks_.count(k))
        acks_[k] = {recv_ns, f.seq};
      return;
    case frame_kind::message_new: break;
    default: return;
  }
  if (has_seqs_)
    seqs_.see(client, f.seq);
  if (!parse_k(f.client_msg_id, k) || f.send_ns == 0) {
    ++foreign_;
    return;
  }
  if (taken_.count(k)) {
    ++late_;  // arrived after its message was reported (timeout)
    return;
  }
  auto& r = open_[k];
  ++r.received;
  r.last_recv_ns = std::max(r.last_recv_ns, recv_ns);
  r.latencies_ns.push_back(recv_ns - f.send_ns);
}

size_t fanout_receiver::received(uint64_t k) const {
  auto it = open_.find(k);
  return it == open_.end() ? 0 : it->second.received;
}

std::vector<uint64_t> fanout_receiver::complete(size_t expected) const {
  std::vector<uint64_t> out;
  for (auto& [k, r] : open_)
    if (r.received >= expected)
      out.push_back(k);
  return out;
}

receipt fanout_receiver::take(uint64_t k) {
  taken_.insert(k);
  auto it = open_.find(k);
  if (it == open_.end())
    return {};
  receipt r = std::move(it->second);
  open_.erase(it);
  return r;
}

int64_t fanout_receiver::ack_ns(uint64_t k) const {
  auto it = acks_.find(k);
  return it == acks_.end() ? 0 : it->second.first;
}

uint64_t fanout_receiver::ack_seq(uint64_t k) const {
  auto it = acks_.find(k);
  return it == acks_.end() ? 0 : it->second.second;
}

nlohmann::json fanout_receiver::counters() const {
  return {{"seq_gaps", seqs_.gaps()},
          {"order_violations", seqs_.violations()},
          {"late_deliveries", late_},
          {"cursors", cursors_},
          {"membership_missing_in_hello_ack", membership_missing_},
          {"foreign_deliveries", foreign_},
          {"errors", errors_}};
}

nlohmann::json merge_counters(const std::vector<nlohmann::json>& parts) {
  nlohmann::json sum = nlohmann::json::object();
  for (auto& p : parts) {
    if (!p.is_object())
      continue;
    for (auto& [key, v] : p.items()) {
      if (v.is_number_unsigned() || v.is_number_integer()) {
        sum[key] = sum.value(key, uint64_t{0}) + v.get<uint64_t>();
      } else if (v.is_object()) {
        auto& m = sum[key];
        if (!m.is_object())
          m = nlohmann::json::object();
        for (auto& [k2, v2] : v.items())
          if (v2.is_number())
            m[k2] = m.value(k2, uint64_t{0}) + v2.get<uint64_t>();
      }
    }
  }
  return sum;
}

} // namespace parley::bench
