#include "tools/bench/cohort.hpp"

#include <cstdio>

#include "tools/bench/fanout_receiver.hpp"

namespace parley::bench {

ojson cohort::connect(const options& o) {
  auto before = sample_nodes(o.node_pids);
  auto t0 = steady::now();
  if (pool_)
    local_.progress_hook = [](size_t, size_t, size_t) {};  // one combined line below
  auto report = local_.connect_all();
  if (pool_) {
    auto last = steady::now();
    auto print = [&](bool final) {
      double secs = std::chrono::duration<double>(steady::now() - t0).count();
      size_t ready = local_.ready_count() + pool_->ready();
      std::fprintf(
        stderr,
        "\rconnecting: %zu/%zu ready, %zu failed, %zu in flight, %.0f/s, %.1f s, %zu workers   %s",
        ready, total_, report.failed + pool_->failed(), pool_->pending(),
        secs > 0 ? static_cast<double>(ready) / secs : 0.0, secs, pool_->size(), final ? "\n" : "");
      std::fflush(stderr);
    };
    // Bounded: every worker's own connect phase ends by its connect timeouts.
    double budget_s = static_cast<double>(total_) / o.connect_rate * 3 + o.connect_timeout_s + 60;
    local_.run_until(
      [&] {
        if (steady::now() - last >= std::chrono::milliseconds(250)) {
          last = steady::now();
          print(false);
        }
        return pool_->all_connected() || pool_->lost() == pool_->size();
      },
      t0 + std::chrono::milliseconds(static_cast<int64_t>(budget_s * 1000)));
    print(true);
  }
  double seconds = std::chrono::duration<double>(steady::now() - t0).count();
  bool quiet = local_.settle(std::chrono::milliseconds(500),
                             std::chrono::milliseconds(static_cast<int64_t>(o.settle_s * 1000)));
  size_t ready = report.ready, failed = report.failed;
  auto failures = report.failures;
  ojson setup_frames = frames_json(local_);
  if (pool_) {
    local_.run_until([&] { return pool_->all_settled() || pool_->lost() == pool_->size(); },
                     steady::now() + std::chrono::milliseconds(
                                       static_cast<int64_t>(o.settle_s * 1000) + 5000));
    for (auto& s : pool_->settled_reports())
      quiet = quiet && s.value("settled", false);
    std::vector<nlohmann::json> frames{nlohmann::json(setup_frames)};
    for (auto& c : pool_->connected_reports()) {
      ready += c.value("ready", size_t{0});
      failed += c.value("failed", size_t{0});
      for (auto& [why, n] : c["failures"].items())
        failures[why] += n.get<size_t>();
      frames.push_back(c["setup_frames"]);
    }
    setup_frames = ojson(merge_counters(frames));
    if (pool_->lost() > 0 && total_ > ready + failed)
      failed = total_ - ready;  // clients of a lost worker
  }
  auto after = sample_nodes(o.node_pids);
  ojson j;
  j["clients"] = total_;
  j["ready"] = ready;
  j["failed"] = failed;
  j["seconds"] = seconds;
  j["connects_per_s"] = seconds > 0 ? static_cast<double>(ready) / seconds : 0;
  j["failures"] = failures;
  j["settled"] = quiet;
  j["workers"] = workers();
  j["setup_frames"] = setup_frames;
  std::printf("connect\n");
  print_row("clients ready / failed", strf("%zu / %zu of %zu", ready, failed, total_));
  print_row("connect time",
            strf("%.2f s (%.0f/s)%s", seconds, j["connects_per_s"].get<double>(),
                 pool_ ? strf(", %zu worker processes", pool_->size()).c_str() : ""));
  for (auto& [why, n] : failures)
    print_row("  failure", strf("%zu x %s", n, why.c_str()));
  if (!quiet)
    print_row("warning", strf("setup traffic still flowing after %.0f s (--settle)", o.settle_s));
  report_node_memory(j, before, after, ready);
  return j;
}

std::vector<nlohmann::json> cohort::finish(std::chrono::milliseconds max) {
  if (!pool_)
    return {};
  pool_->broadcast(record::quit, "");
  local_.run_until([&] { return pool_->all_final() || pool_->lost() == pool_->size(); },
                   steady::now() + max);
  return pool_->final_reports();
}

ojson cohort::frames(const std::vector<nlohmann::json>& finals) const {
  std::vector<nlohmann::json> parts{nlohmann::json(frames_json(local_))};
  for (auto& f : finals)
    parts.push_back(f["frames"]);
  return ojson(merge_counters(parts));
}

ojson cohort::close_reasons(const std::vector<nlohmann::json>& finals) const {
  nlohmann::json local = nlohmann::json::object();
  for (auto& [why, n] : local_.close_reasons())
    local[why] = n;
  std::vector<nlohmann::json> parts{nlohmann::json{{"r", local}}};
  for (auto& f : finals)
    parts.push_back({{"r", f["close_reasons"]}});
  auto m = merge_counters(parts);
  return ojson(m.contains("r") ? m["r"] : nlohmann::json::object());
}

uint64_t cohort::closed_after_ready(const std::vector<nlohmann::json>& finals) const {
  uint64_t n = local_.closed_after_ready();
  for (auto& f : finals)
    n += f.value("closed_after_ready", uint64_t{0});
  return n;
}

double cohort::workers_cpu_s(const std::vector<nlohmann::json>& finals) const {
  double s = 0;
  for (auto& f : finals)
    s += f.value("cpu_s_after_settle", 0.0);
  return s;
}

} // namespace parley::bench
