#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>

#include "tools/bench/cohort.hpp"
#include "tools/bench/fanout_receiver.hpp"
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

uint64_t as_u64(const nlohmann::json& j, const char* key) {
  return j.is_object() ? j.value(key, uint64_t{0}) : 0;
}

} // namespace

ojson run_fanout(const options& o, admin_api* admin, worker_pool* pool) {
  uint64_t base = choose_user_base(o);
  target_protocol proto(*parse_target(o.target));
  // Peer processes share no rooms: the publisher holds one connection per process.
  size_t publishers = proto.has_seqs() ? 1 : o.nodes.size();
  if (o.members < publishers)
    throw setup_error("--members must be at least the number of --node for a peer target");
  std::string room = "bench-fanout-" + std::to_string(base);
  if (admin) {
    std::vector<uint64_t> members;
    for (size_t i = 0; i < o.members; ++i)
      members.push_back(base + i);
    room = admin->create_channel(o.workspace, room, members);
  }
  if (pool)
    pool->broadcast(record::start,
                    nlohmann::json{{"room", room}, {"user_base", base}, {"workers", pool->size()}}
                      .dump());

  boost::asio::io_context io(1);
  size_t local_n = pool ? publishers : o.members;
  fanout_receiver rx(room, local_n, proto.has_seqs());
  fleet f(io, make_fleet_config(o), rx);
  for (size_t g = 0; g < local_n; ++g)
    f.add(base + g, room, g);
  if (pool)
    pool->attach(io);
  cohort everyone(f, pool, o.members);

  ojson out;
  out["target"] = proto.name();
  out["users_from"] = base;
  out["channel_id"] = room;
  out["workers"] = everyone.workers();
  out["publish"] = proto.has_seqs()
                     ? "one send from one connection; the cluster routes it to every node"
                     : strf("the same message sent once to each of %zu peer process(es), from "
                            "one publisher connection per process; latency from the first send",
                            publishers);
  out["connect"] = everyone.connect(o);

  std::vector<message_result> results;
  latency_recorder all;
  auto cpu0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  int64_t start = now_ns();
  uint64_t delivered = 0;
  std::printf(
    "fanout [%s] to %zu members (%zu connected, %zu node(s), %zu worker(s)), %zu messages\n",
    proto.name(), o.members, everyone.ready(), o.nodes.size(), everyone.workers(), o.messages);
  std::printf("  %5s %6s %7s %9s %9s %9s %9s %9s %7s %10s\n", "msg", "seq", "recv", "ack ms",
              "p50 ms", "p90 ms", "p99 ms", "last ms", "misses", "deliv/s");
  for (size_t i = 0; i < o.messages; ++i) {
    bool publishers_up = true;
    for (size_t p = 0; p < publishers; ++p)
      publishers_up = publishers_up && f.ready(p);
    if (!publishers_up) {
      std::fprintf(stderr, "a publisher connection closed; stopping\n");
      break;
    }
    size_t expected = everyone.ready();
    std::string id = fanout_receiver::message_id(i, base);
    int64_t send_ns = now_ns();
    std::string payload = make_payload(id, send_ns, o.text_bytes);
    for (size_t p = 0; p < publishers; ++p)
      f.send(p, std::make_shared<const std::string>(proto.send_frame(room, id, payload)));
    auto deadline = steady::now() + std::chrono::milliseconds(o.timeout_ms);
    bool complete = f.run_until(
      [&] {
        return rx.refused(i)
               || (rx.received(i) >= f.ready_count() && (!pool || pool->all_done(i)));
      },
      deadline);
    if (pool && (!complete || rx.refused(i))) {
      // Timed out: every worker reports what it has for message i now.
      std::string k(sizeof(uint64_t), '\0');
      uint64_t kk = i;
      std::memcpy(k.data(), &kk, sizeof kk);
      pool->broadcast(record::flush, k);
      f.run_until([&] { return pool->all_done(i); }, steady::now() + std::chrono::seconds(5));
    }
    receipt local = rx.take(i);
    latency_recorder lat;
    size_t received = local.received;
    int64_t last_ns = local.last_recv_ns;
    for (auto ns : local.latencies_ns)
      lat.add(ns), all.add(ns);
    if (pool)
      for (auto& [h, ns_list] : pool->take_done(i)) {
        received += h.received;
        last_ns = std::max(last_ns, h.last_recv_ns);
        for (auto ns : ns_list)
          lat.add(ns), all.add(ns);
      }
    message_result r;
    r.index = i;
    r.seq = rx.ack_seq(i);
    r.expected = expected;
    r.delivery = lat.summarize();
    int64_t ack = rx.ack_ns(i);
    r.ack_ms = ack ? static_cast<double>(ack - send_ns) / 1e6 : -1;
    r.last_ms = last_ns ? static_cast<double>(last_ns - send_ns) / 1e6 : 0;
    r.misses = expected > received ? expected - received : 0;
    r.deliveries_per_s = r.last_ms > 0 ? static_cast<double>(received) / (r.last_ms / 1e3) : 0;
    delivered += std::min(received, expected);
    std::printf("  %5zu %6llu %7zu %9.3f %9.3f %9.3f %9.3f %9.3f %7zu %10.0f\n", i,
                (unsigned long long)r.seq, received, r.ack_ms, r.delivery.p50, r.delivery.p90,
                r.delivery.p99, r.last_ms, r.misses, r.deliveries_per_s);
    results.push_back(r);
    if (o.pause_ms > 0)
      f.run_for(std::chrono::milliseconds(o.pause_ms));
  }
  double wall = static_cast<double>(now_ns() - start) / 1e9;
  auto cpu1 = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();
  auto finals = everyone.finish(std::chrono::seconds(10));

  std::vector<nlohmann::json> parts{rx.counters()};
  for (auto& fin : finals)
    parts.push_back(fin["counters"]);
  auto counters = merge_counters(parts);
  uint64_t late = as_u64(counters, "late_deliveries"), gaps = as_u64(counters, "seq_gaps"),
           order = as_u64(counters, "order_violations"), cursors = as_u64(counters, "cursors"),
           missing = as_u64(counters, "membership_missing_in_hello_ack");
  std::map<std::string, uint64_t> errors;
  if (counters.contains("errors"))
    for (auto& [code, n] : counters["errors"].items())
      errors[code] = n.get<uint64_t>();

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
  auto overall = all.summarize();
  std::printf("fanout summary [%s] over %zu messages\n", proto.name(), results.size());
  print_row("time to last recipient (ms)", strf("median %.3f  p90 %.3f  max %.3f", last_s.p50,
                                                last_s.p90, last_s.max));
  print_row("per-message p50 (ms)", strf("median %.3f  max %.3f", p50_s.p50, p50_s.max));
  print_row("per-message p99 (ms)", strf("median %.3f  max %.3f", p99_s.p50, p99_s.max));
  print_row("ack latency (ms)", strf("median %.3f  max %.3f", ack_s.p50, ack_s.max));
  print_latency("all deliveries", overall);
  print_row("misses / late deliveries", strf("%zu / %llu", misses, (unsigned long long)late));
  for (auto& [code, n] : errors)
    print_row("error " + code, strf("%llu", (unsigned long long)n));
  if (gaps || order || missing)
    print_row("PROTOCOL ANOMALIES", strf("gaps %llu, order %llu, hello_ack w/o channel %llu",
                                         (unsigned long long)gaps, (unsigned long long)order,
                                         (unsigned long long)missing));
  if (cursors)
    print_row("channel.cursor frames", strf("%llu (cursor mode: no message.new expected)",
                                            (unsigned long long)cursors));
  if (pool && pool->lost() > 0)
    print_row("WORKERS LOST", strf("%zu of %zu", pool->lost(), pool->size()));

  out["params"] = {{"members", o.members}, {"messages", o.messages}, {"pause_ms", o.pause_ms},
                   {"timeout_ms", o.timeout_ms}, {"nodes", o.nodes.size()},
                   {"per_worker", o.per_worker}, {"text_bytes", o.text_bytes}};
  out["results"] = {{"messages", results.size()},
                    {"last_recipient_ms", last_s.to_json()},
                    {"per_message_p50_ms", p50_s.to_json()},
                    {"per_message_p99_ms", p99_s.to_json()},
                    {"ack_ms", ack_s.to_json()},
                    {"all_deliveries", overall.to_json()},
                    {"deliveries", delivered},
                    {"misses", misses},
                    {"late_deliveries", late},
                    {"errors", errors},
                    {"seq_gaps", gaps},
                    {"order_violations", order},
                    {"cursors", cursors},
                    {"membership_missing_in_hello_ack", missing},
                    {"workers_lost", pool ? pool->lost() : 0},
                    {"per_message", per_message}};
  out["cost"] = node_cost(o, cpu0, cpu1, delivered,
                          self1 - self0 + everyone.workers_cpu_s(finals), wall);
  auto closed = everyone.closed_after_ready(finals);
  out["closed_during_run"] = closed;
  out["close_reasons"] = everyone.close_reasons(finals);
  if (closed > 0)
    for (auto& [why, n] : out["close_reasons"].items())
      print_row("closed by node",
                strf("%llu x %s", (unsigned long long)n.get<uint64_t>(), why.c_str()));
  out["frames"] = everyone.frames(finals);
  if (pool)
    pool->detach();
  f.close_all();
  return out;
}

} // namespace parley::bench
