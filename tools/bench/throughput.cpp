#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>

#include "tools/bench/cohort.hpp"
#include "tools/bench/fanout_receiver.hpp"
#include "tools/bench/scenarios.hpp"
#include "tools/bench/throughput_run.hpp"

namespace parley::bench {

namespace {

uint64_t count_of(const nlohmann::json& j, const char* key) {
  return j.is_object() ? j.value(key, uint64_t{0}) : 0;
}

/// Creates the run's channels with their members in one POST each. Large runs use a few
/// keep-alive connections in parallel: 10,000 channels one after another take too long.
std::vector<std::string> create_channels(const options& o, admin_api* admin, uint64_t base) {
  std::vector<std::string> ids(o.channels);
  auto name = [&](size_t c) { return "bench-" + std::to_string(base) + "-" + std::to_string(c); };
  auto members = [&](size_t c) {
    std::vector<uint64_t> m;
    for (size_t i = 0; i < o.members; ++i)
      m.push_back(base + c * o.members + i);
    return m;
  };
  if (!admin) {
    for (size_t c = 0; c < o.channels; ++c)
      ids[c] = name(c);
    return ids;
  }
  size_t threads = o.channels >= 400 ? 4 : 1;
  std::atomic<size_t> next{0}, made{0};
  std::mutex m;
  std::string failure;
  auto work = [&](admin_api& api) {
    try {
      for (size_t c; (c = next++) < o.channels;) {
        ids[c] = api.create_channel(o.workspace, name(c), members(c));
        if (++made % 100 == 0 && threads == 1)
          std::fprintf(stderr, "\rcreating channels: %zu/%zu", made.load(), o.channels);
        std::lock_guard<std::mutex> g(m);
        if (!failure.empty())
          return;
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> g(m);
      failure = e.what();
    }
  };
  auto t0 = steady::now();
  if (threads == 1) {
    work(*admin);
  } else {
    std::vector<std::thread> pool;
    for (size_t i = 0; i < threads; ++i)
      pool.emplace_back([&] {
        admin_api api(o.host, o.port, o.admin_token);
        work(api);
      });
    while (made < o.channels) {
      {
        std::lock_guard<std::mutex> g(m);
        if (!failure.empty())
          break;
      }
      std::fprintf(stderr, "\rcreating channels: %zu/%zu", made.load(), o.channels);
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    for (auto& t : pool)
      t.join();
  }
  if (!failure.empty())
    throw setup_error(failure);
  if (o.channels >= 100)
    std::fprintf(stderr, "\rcreating channels: %zu/%zu in %.1f s\n", o.channels, o.channels,
                 std::chrono::duration<double>(steady::now() - t0).count());
  return ids;
}

/// Prints the merged figures of every process; returns them as the "results" JSON.
ojson report(const options& o, const nlohmann::json& c, latency_recorder& ack_rec,
             latency_recorder& del_rec) {
  const char* name = target_protocol(*parse_target(o.target)).name();
  double window_s = o.duration_s;
  auto ack = ack_rec.summarize();
  auto del = del_rec.summarize();
  uint64_t sent = count_of(c, "sent"), acked = count_of(c, "acked"),
           refused = count_of(c, "refused"), unacked = count_of(c, "unacked"),
           misses = count_of(c, "misses"), gaps = count_of(c, "seq_gaps"),
           order = count_of(c, "order_violations"), wrong = count_of(c, "wrong_channel"),
           unknown = count_of(c, "unknown_deliveries"),
           of_refused = count_of(c, "deliveries_of_refused"),
           unexpected_acks = count_of(c, "unexpected_acks"),
           missing = count_of(c, "membership_missing_in_hello_ack"),
           new_before_ack = count_of(c, "sender_got_new_before_ack");
  std::map<std::string, uint64_t> errors;
  if (c.contains("errors"))
    for (auto& [code, n] : c["errors"].items())
      errors[code] = n.get<uint64_t>();
  ojson j;
  j["sent"] = sent;
  j["acked"] = acked;
  j["refused"] = refused;
  j["unacked"] = unacked;
  j["acked_per_s"] = static_cast<double>(count_of(c, "acked_in_window")) / window_s;
  j["deliveries"] = count_of(c, "deliveries");
  j["deliveries_per_s"] = static_cast<double>(count_of(c, "deliveries_in_window")) / window_s;
  j["ack_latency"] = ack.to_json();
  j["delivery_latency"] = del.to_json();
  if (ack_rec.dropped() || del_rec.dropped())
    j["latency_samples_dropped"] = ack_rec.dropped() + del_rec.dropped();
  j["misses"] = misses;
  j["errors"] = errors;
  j["seq_gaps"] = gaps;
  j["order_violations"] = order;
  j["wrong_channel"] = wrong;
  j["unknown_deliveries"] = unknown;
  j["deliveries_of_refused"] = of_refused;
  j["unexpected_acks"] = unexpected_acks;
  j["cursors"] = count_of(c, "cursors");
  j["membership_missing_in_hello_ack"] = missing;
  j["sender_got_new_before_ack"] = new_before_ack;

  std::printf("throughput [%s] (%.1f s send window)\n", name, window_s);
  print_row("sent / acked / refused / unacked",
            strf("%llu / %llu / %llu / %llu", (unsigned long long)sent, (unsigned long long)acked,
                 (unsigned long long)refused, (unsigned long long)unacked));
  print_row("acked msgs/s", strf("%.0f", j["acked_per_s"].get<double>()));
  print_row("deliveries/s", strf("%.0f", j["deliveries_per_s"].get<double>()));
  print_latency("ack latency", ack);
  print_latency("delivery latency", del);
  print_row("misses", strf("%llu", (unsigned long long)misses));
  for (auto& [code, n] : errors)
    print_row("error " + code, strf("%llu", (unsigned long long)n));
  if (gaps || order || wrong || unknown || of_refused || unexpected_acks || missing)
    print_row("PROTOCOL ANOMALIES",
              strf("gaps %llu, order %llu, wrong channel %llu, unknown %llu, refused delivered "
                   "%llu, unexpected acks %llu, hello_ack w/o channel %llu",
                   (unsigned long long)gaps, (unsigned long long)order, (unsigned long long)wrong,
                   (unsigned long long)unknown, (unsigned long long)of_refused,
                   (unsigned long long)unexpected_acks, (unsigned long long)missing));
  if (new_before_ack)
    print_row("sender saw message.new before ack",
              strf("%llu", (unsigned long long)new_before_ack));
  if (errors.count("rate_limited"))
    std::fprintf(stderr,
                 "warning: the node refused sends with rate_limited; start it with\n  %s\n",
                 bench_node_flags);
  return j;
}

steady::time_point at_ns(int64_t ns) {
  return steady::time_point(
    std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}

} // namespace

ojson run_throughput(const options& o, admin_api* admin, worker_pool* pool) {
  uint64_t base = choose_user_base(o);
  auto channel_ids = create_channels(o, admin, base);
  if (pool)
    pool->broadcast(record::start, nlohmann::json{{"user_base", base},
                                                  {"workers", pool->size()},
                                                  {"channel_ids", channel_ids}}
                                     .dump());

  // With workers, they hold every channel; the parent only coordinates and merges.
  auto share = make_share(o, 0, pool ? std::vector<std::string>{} : channel_ids);
  boost::asio::io_context io(1);
  throughput_run run(o, share);
  fleet f(io, make_fleet_config(o), run);
  run.set_fleet(&f);
  add_share_clients(f, o, base, share);
  if (pool)
    pool->attach(io);
  cohort everyone(f, pool, o.channels * o.members);

  ojson out;
  out["target"] = o.target;
  out["users_from"] = base;
  if (pool)
    out["workers"] = everyone.workers();
  out["connect"] = pool ? everyone.connect(o) : connect_phase(f, o);

  // Workers start together: the window opens once the go record surely reached them all.
  int64_t start = now_ns() + (pool ? 200'000'000 : 0);
  int64_t end = start + static_cast<int64_t>(o.duration_s * 1e9);
  if (pool) {
    pool->broadcast(record::go, nlohmann::json{{"start_ns", start}, {"end_ns", end}}.dump());
    f.run_until([] { return false; }, at_ns(start));
  }
  // Node CPU over the common window: from its start until the last process drained.
  auto cpu0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  run.start(start, end);
  std::fprintf(stderr, "sending for %.1f s ...\n", o.duration_s);
  f.run_until(
    [&] {
      run.pump_all(now_ns());
      return false;
    },
    at_ns(end));
  auto drain = std::chrono::milliseconds(static_cast<int64_t>(o.drain_s * 1000));
  bool drained = f.run_until([&] { return run.drained(); }, steady::now() + drain);
  // Each worker drains its own channels, then reports; the window ends with the last one.
  if (pool)
    f.run_until([&] { return pool->all_final() || pool->lost() == pool->size(); },
                at_ns(end) + drain + std::chrono::seconds(15));
  double wall = static_cast<double>(now_ns() - start) / 1e9;
  auto cpu1 = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();
  auto finals = everyone.finish(std::chrono::seconds(10));

  std::vector<nlohmann::json> parts{run.counters()};
  for (auto& fin : finals) {
    parts.push_back(fin["counters"]);
    drained = drained && fin.value("drained", false);
  }
  if (pool) {
    for (auto& body : pool->take_samples())
      if (!decode_samples(body, run.ack_samples(), run.delivery_samples()))
        std::fprintf(stderr, "parley-bench: a worker sent malformed latency samples\n");
    if (pool->lost() > 0 || finals.size() < pool->size())
      drained = false;
  }
  auto counters = merge_counters(parts);

  out["params"] = {{"channels", o.channels}, {"members", o.members}, {"senders", o.senders},
                   {"duration_s", o.duration_s}, {"rate_per_sender", o.rate},
                   {"window", o.window}, {"text_bytes", o.text_bytes}};
  if (pool)
    out["params"]["per_worker"] = o.per_worker;
  out["results"] = report(o, counters, run.ack_samples(), run.delivery_samples());
  out["results"]["drained"] = drained;
  if (!drained)
    print_row("warning", strf("not drained after %.1f s (--drain): misses are counted", o.drain_s));
  if (pool) {
    out["results"]["workers_reported"] = finals.size();
    // Each worker's share, so a reader can check that the parts add up.
    ojson detail = ojson::array();
    for (auto& fin : finals)
      detail.push_back({{"worker", fin.value("worker", size_t{0})},
                        {"channels", fin.value("channels", size_t{0})},
                        {"senders", fin.value("senders", size_t{0})},
                        {"sent", count_of(fin["counters"], "sent")},
                        {"acked", count_of(fin["counters"], "acked")},
                        {"deliveries", count_of(fin["counters"], "deliveries")},
                        {"misses", count_of(fin["counters"], "misses")},
                        {"drained", fin.value("drained", false)}});
    out["results"]["per_worker"] = detail;
    if (pool->lost() > 0 || finals.size() < pool->size())
      print_row("WORKERS LOST", strf("%zu of %zu did not report", pool->size() - finals.size(),
                                     pool->size()));
  }
  out["cost"] = node_cost(o, cpu0, cpu1, count_of(counters, "deliveries"),
                          self1 - self0 + everyone.workers_cpu_s(finals), wall);
  auto closed = everyone.closed_after_ready(finals);
  out["closed_during_run"] = closed;
  out["close_reasons"] = everyone.close_reasons(finals);
  if (closed > 0) {
    print_row("connections closed by node", strf("%llu", (unsigned long long)closed));
    for (auto& [why, n] : out["close_reasons"].items())
      print_row("  reason", strf("%llu x %s", (unsigned long long)n.get<uint64_t>(), why.c_str()));
  }
  out["frames"] = everyone.frames(finals);
  if (pool)
    pool->detach();
  f.close_all();
  return out;
}

} // namespace parley::bench
