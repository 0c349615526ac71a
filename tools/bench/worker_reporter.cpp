#include "tools/bench/worker_reporter.hpp"

#include <algorithm>
#include <chrono>

namespace parley::bench {

std::optional<nlohmann::json> wait_for_start(int cmd_fd) {
  auto start = read_record(cmd_fd);
  if (!start || start->type != record::start)
    return std::nullopt;
  return nlohmann::json::parse(start->body);
}

fleet_config worker_fleet_config(const options& o, double workers) {
  auto fc = make_fleet_config(o);
  fc.connect_rate = std::max(1.0, o.connect_rate / workers);
  fc.max_pending =
    std::max<size_t>(1, static_cast<size_t>(static_cast<double>(o.max_pending) / workers));
  return fc;
}

worker_reporter::worker_reporter(fleet& f, size_t index, int report_fd)
  : f_(f), index_(index), report_fd_(report_fd) {
  f_.progress_hook = [this](size_t ready, size_t failed, size_t pending) {
    progress(ready, failed, pending);
  };
  f_.on_close_hook = [this] { progress(f_.ready_count(), failed_, 0); };
}

void worker_reporter::progress(size_t ready, size_t failed, size_t pending) {
  failed_ = failed;
  write_record(report_fd_, record::progress,
               nlohmann::json{{"ready", ready}, {"failed", failed}, {"pending", pending}}.dump());
}

void worker_reporter::connect_and_settle(const options& o) {
  auto report = f_.connect_all();
  progress(report.ready, report.failed, 0);
  write_record(report_fd_, record::connected,
               nlohmann::json{{"worker", index_},
                              {"ready", report.ready},
                              {"failed", report.failed},
                              {"seconds", report.seconds},
                              {"failures", report.failures},
                              {"setup_frames", nlohmann::json(frames_json(f_))}}
                 .dump());
  bool quiet = f_.settle(std::chrono::milliseconds(500),
                         std::chrono::milliseconds(static_cast<int64_t>(o.settle_s * 1000)));
  write_record(report_fd_, record::settled, nlohmann::json{{"settled", quiet}}.dump());
  cpu0_ = self_cpu_s();
}

nlohmann::json worker_reporter::final_fields() const {
  return {{"worker", index_},
          {"frames", nlohmann::json(frames_json(f_))},
          {"close_reasons", f_.close_reasons()},
          {"closed_after_ready", f_.closed_after_ready()},
          {"ready", f_.ready_count()},
          {"cpu_s_after_settle", self_cpu_s() - cpu0_}};
}

} // namespace parley::bench
