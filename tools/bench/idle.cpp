#include <cstdio>

#include "tools/bench/scenarios.hpp"

namespace parley::bench {

namespace {

class idle_run : public fleet_observer {
public:
  void on_frame(size_t, const scanned_frame& f, std::string_view, int64_t) override {
    if (f.kind == frame_kind::error)
      ++errors_;
  }
  uint64_t errors_ = 0;
};

} // namespace

ojson run_idle(const options& o, admin_api& admin) {
  uint64_t base = choose_user_base(o);
  ojson out;
  out["users_from"] = base;
  // Optional channels make the idle connections members, as they would be in real use.
  size_t channels = o.idle_channels;
  if (channels > 0) {
    size_t per = (o.connections + channels - 1) / channels;
    for (size_t c = 0; c < channels; ++c) {
      std::vector<uint64_t> members;
      for (size_t i = c * per; i < std::min(o.connections, (c + 1) * per); ++i)
        members.push_back(base + i);
      if (!members.empty())
        admin.create_channel(o.workspace, "bench-idle-" + std::to_string(base) + "-"
                                            + std::to_string(c), members);
    }
  }
  boost::asio::io_context io(1);
  idle_run run;
  fleet f(io, make_fleet_config(o), run);
  for (size_t i = 0; i < o.connections; ++i)
    f.add(base + i);
  auto before = sample_nodes(o.node_pids);
  out["connect"] = connect_phase(f, o);
  auto cpu0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  std::fprintf(stderr, "holding %zu connections for %.1f s ...\n", f.ready_count(), o.hold_s);
  f.run_for(std::chrono::milliseconds(static_cast<int64_t>(o.hold_s * 1000)));
  auto after = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();
  std::printf("idle %zu connections held %.1f s\n", f.ready_count(), o.hold_s);
  ojson r;
  r["connections"] = f.ready_count();
  r["channels"] = channels;
  r["hold_s"] = o.hold_s;
  r["closed_during_hold"] = f.closed_after_ready();
  r["errors"] = run.errors_;
  if (before.ok && after.ok && f.ready_count() > 0) {
    double per = (static_cast<double>(after.rss_kb) - static_cast<double>(before.rss_kb))
                 / static_cast<double>(f.ready_count());
    r["node_rss_kb_before"] = before.rss_kb;
    r["node_rss_kb_after_hold"] = after.rss_kb;
    r["node_rss_kib_per_connection"] = per;
    r["node_cpu_s_during_hold"] = after.cpu_s - cpu0.cpu_s;
    print_row("node RSS before connect / after hold",
              strf("%.1f / %.1f MiB", before.rss_kb / 1024.0, after.rss_kb / 1024.0));
    print_row("node RSS per idle connection", strf("%.2f KiB", per));
    print_row("node CPU while idle", strf("%.3f s over %.1f s", after.cpu_s - cpu0.cpu_s, o.hold_s));
  } else {
    print_row("node RSS", "pass --node-pid PID to measure");
  }
  print_row("closed by node during hold", strf("%llu", (unsigned long long)f.closed_after_ready()));
  for (auto& [why, n] : f.close_reasons())
    print_row("  reason", strf("%zu x %s", n, why.c_str()));
  print_row("bench CPU while idle", strf("%.3f s", self1 - self0));
  out["params"] = {{"connections", o.connections}, {"channels", channels}, {"hold_s", o.hold_s}};
  out["results"] = r;
  out["frames"] = frames_json(f);
  f.close_all();
  return out;
}

} // namespace parley::bench
