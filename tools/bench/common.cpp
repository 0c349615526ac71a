#include "tools/bench/common.hpp"

#include <sys/resource.h>

#include <cstdarg>
#include <cstdio>
#include <ctime>
#include <iterator>

namespace parley::bench {

uint64_t choose_user_base(const options& o) {
  if (o.user_base != 0)
    return o.user_base;
  // 10^6 users per run, distinct for runs at least a second apart within ~11 days.
  return (static_cast<uint64_t>(std::time(nullptr)) % 1000000) * 1000000 + 1;
}

fleet_config make_fleet_config(const options& o) {
  fleet_config c;
  c.nodes = o.nodes;
  c.target = *parse_target(o.target);
  c.workspace = o.workspace;
  c.secret = o.secret;
  c.connect_rate = o.connect_rate;
  c.max_pending = o.max_pending;
  c.connect_timeout = std::chrono::milliseconds(static_cast<int64_t>(o.connect_timeout_s * 1000));
  c.source_ips = o.source_ips;
  return c;
}

std::string strf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

void print_row(const std::string& label, const std::string& value) {
  std::printf("  %-34s %s\n", label.c_str(), value.c_str());
}

void print_latency(const std::string& label, const latency_summary& s) {
  print_row(label, strf("n=%-9zu p50 %8.3f  p90 %8.3f  p99 %8.3f  max %8.3f ms", s.count, s.p50,
                        s.p90, s.p99, s.max));
}

double self_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec)
         + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

bool hello_ack_lists(std::string_view hello_ack, const std::string& channel) {
  try {
    auto j = nlohmann::json::parse(hello_ack);
    return j.at("channels").contains(channel);
  } catch (const std::exception&) {
    return false;
  }
}

ojson frames_json(const fleet& f) {
  static const char* names[] = {"hello_ack",        "message.new",     "message.ack",
                                "message.backfill", "channel.cursor",  "channel.joined",
                                "channel.left",     "presence.update", "presence.state",
                                "presence.users",   "error",           "pong",
                                "other"};
  static_assert(std::size(names) == frame_kinds);
  ojson j = ojson::object();
  for (size_t i = 0; i < f.frames_by_kind().size(); ++i)
    if (f.frames_by_kind()[i] > 0)
      j[names[i]] = f.frames_by_kind()[i];
  return j;
}

void report_node_memory(ojson& j, const node_sample& before, const node_sample& after,
                        size_t ready) {
  if (!before.ok || !after.ok || ready == 0)
    return;
  double per_conn_kib = (static_cast<double>(after.rss_kb) - static_cast<double>(before.rss_kb))
                        / static_cast<double>(ready);
  j["node_rss_kb_before"] = before.rss_kb;
  j["node_rss_kb_after"] = after.rss_kb;
  j["node_rss_kib_per_connection"] = per_conn_kib;
  j["node_cpu_s_connecting"] = after.cpu_s - before.cpu_s;
  print_row("node RSS before / after", strf("%.1f / %.1f MiB", before.rss_kb / 1024.0,
                                            after.rss_kb / 1024.0));
  print_row("node RSS per connection", strf("%.2f KiB", per_conn_kib));
}

ojson connect_phase(fleet& f, const options& o) {
  auto before = sample_nodes(o.node_pids);
  auto report = f.connect_all();
  bool quiet = f.settle(std::chrono::milliseconds(500),
                        std::chrono::milliseconds(static_cast<int64_t>(o.settle_s * 1000)));
  auto after = sample_nodes(o.node_pids);
  ojson j;
  j["clients"] = f.size();
  j["ready"] = report.ready;
  j["failed"] = report.failed;
  j["seconds"] = report.seconds;
  j["connects_per_s"] = report.seconds > 0 ? static_cast<double>(report.ready) / report.seconds : 0;
  j["failures"] = report.failures;
  j["settled"] = quiet;
  j["setup_frames"] = frames_json(f);
  std::printf("connect\n");
  print_row("clients ready / failed",
            strf("%zu / %zu of %zu", report.ready, report.failed, f.size()));
  print_row("connect time", strf("%.2f s (%.0f/s)", report.seconds,
                                 j["connects_per_s"].get<double>()));
  for (auto& [why, n] : report.failures)
    print_row("  failure", strf("%zu x %s", n, why.c_str()));
  if (!quiet)
    print_row("warning", strf("setup traffic still flowing after %.0f s (--settle)", o.settle_s));
  report_node_memory(j, before, after, report.ready);
  return j;
}

ojson node_cost(const options& o, const node_sample& before, const node_sample& after,
                uint64_t deliveries, double bench_cpu_s, double wall_s) {
  ojson j;
  j["wall_s"] = wall_s;
  j["bench_cpu_s"] = bench_cpu_s;
  print_row("bench CPU", strf("%.2f s over %.2f s wall (%.0f%% of a core)", bench_cpu_s, wall_s,
                              wall_s > 0 ? 100 * bench_cpu_s / wall_s : 0));
  if (!before.ok || !after.ok) {
    if (!o.node_pids.empty())
      print_row("node CPU", "unavailable (could not read /proc for every --node-pid)");
    return j;
  }
  double cpu = after.cpu_s - before.cpu_s;
  j["node_cpu_s"] = cpu;
  j["node_cpu_cores"] = wall_s > 0 ? cpu / wall_s : 0;
  j["node_rss_kb"] = after.rss_kb;
  print_row("node CPU", strf("%.2f s (%.2f cores)", cpu, wall_s > 0 ? cpu / wall_s : 0));
  if (deliveries > 0) {
    double per = cpu * 1e6 / static_cast<double>(deliveries);
    j["node_cpu_us_per_delivery"] = per;
    print_row("node CPU per delivery", strf("%.2f us", per));
  }
  print_row("node RSS", strf("%.1f MiB", after.rss_kb / 1024.0));
  return j;
}

} // namespace parley::bench
