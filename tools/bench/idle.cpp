#include <cstdio>

#include "tools/bench/cohort.hpp"
#include "tools/bench/fanout_receiver.hpp"
#include "tools/bench/scenarios.hpp"

namespace parley::bench {

ojson run_idle(const options& o, admin_api* admin, worker_pool* pool) {
  uint64_t base = choose_user_base(o);
  target_protocol proto(*parse_target(o.target));
  ojson out;
  out["target"] = proto.name();
  out["users_from"] = base;
  // Optional channels make the idle connections members, as they would be in real use
  // (Parley only: a peer room is created by joining it).
  size_t channels = o.idle_channels;
  std::string room = "bench-idle-" + std::to_string(base);
  if (channels > 0 && admin) {
    size_t per = (o.connections + channels - 1) / channels;
    for (size_t c = 0; c < channels; ++c) {
      std::vector<uint64_t> members;
      for (size_t i = c * per; i < std::min(o.connections, (c + 1) * per); ++i)
        members.push_back(base + i);
      if (!members.empty())
        admin->create_channel(o.workspace, room + "-" + std::to_string(c), members);
    }
  }
  if (pool)
    pool->broadcast(record::start,
                    nlohmann::json{{"room", room}, {"user_base", base}, {"workers", pool->size()}}
                      .dump());
  boost::asio::io_context io(1);
  size_t local_n = pool ? 0 : o.connections;
  fanout_receiver rx(room, local_n, false);
  fleet f(io, make_fleet_config(o), rx);
  for (size_t i = 0; i < local_n; ++i)
    f.add(base + i, room, i);
  if (pool)
    pool->attach(io);
  cohort everyone(f, pool, o.connections);
  auto before = sample_nodes(o.node_pids);
  out["workers"] = everyone.workers();
  out["connect"] = everyone.connect(o);
  auto cpu0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  std::fprintf(stderr, "holding %zu connections for %.1f s ...\n", everyone.ready(), o.hold_s);
  f.run_for(std::chrono::milliseconds(static_cast<int64_t>(o.hold_s * 1000)));
  auto after = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();
  size_t held = everyone.ready();
  auto finals = everyone.finish(std::chrono::seconds(10));
  std::vector<nlohmann::json> parts{rx.counters()};
  for (auto& fin : finals)
    parts.push_back(fin["counters"]);
  auto counters = merge_counters(parts);
  uint64_t errors = 0;
  if (counters.contains("errors"))
    for (auto& [code, n] : counters["errors"].items())
      errors += n.get<uint64_t>();
  uint64_t closed = everyone.closed_after_ready(finals);
  std::printf("idle [%s] %zu connections held %.1f s (%zu worker(s))\n", proto.name(), held,
              o.hold_s, everyone.workers());
  ojson r;
  r["connections"] = held;
  r["channels"] = channels;
  r["hold_s"] = o.hold_s;
  r["closed_during_hold"] = closed;
  r["errors"] = errors;
  if (before.ok && after.ok && held > 0) {
    double per = (static_cast<double>(after.rss_kb) - static_cast<double>(before.rss_kb))
                 / static_cast<double>(held);
    r["node_rss_kb_before"] = before.rss_kb;
    r["node_rss_kb_after_hold"] = after.rss_kb;
    r["node_rss_kib_per_connection"] = per;
    r["node_cpu_s_during_hold"] = after.cpu_s - cpu0.cpu_s;
    print_row("node RSS before connect / after hold",
              strf("%.1f / %.1f MiB", before.rss_kb / 1024.0, after.rss_kb / 1024.0));
    print_row("node RSS per idle connection", strf("%.2f KiB", per));
    print_row("node CPU while idle",
              strf("%.3f s over %.1f s", after.cpu_s - cpu0.cpu_s, o.hold_s));
  } else {
    print_row("node RSS", "pass --node-pid PID to measure");
  }
  auto reasons = everyone.close_reasons(finals);
  print_row("closed by node during hold", strf("%llu", (unsigned long long)closed));
  for (auto& [why, n] : reasons.items())
    print_row("  reason", strf("%llu x %s", (unsigned long long)n.get<uint64_t>(), why.c_str()));
  double bench_cpu = self1 - self0 + everyone.workers_cpu_s(finals);
  print_row("bench CPU while idle", strf("%.3f s", bench_cpu));
  out["params"] = {{"connections", o.connections}, {"channels", channels}, {"hold_s", o.hold_s},
                   {"nodes", o.nodes.size()}, {"per_worker", o.per_worker}};
  out["results"] = r;
  out["close_reasons"] = reasons;
  out["frames"] = everyone.frames(finals);
  if (pool)
    pool->detach();
  f.close_all();
  return out;
}

} // namespace parley::bench
