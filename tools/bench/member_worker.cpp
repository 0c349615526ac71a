#include <cstring>
#include <set>

#include "tools/bench/cohort.hpp"
#include "tools/bench/fanout_receiver.hpp"

namespace parley::bench {

// Runs in a forked child: everything here is built after fork, from the options alone.
int run_member_worker(const options& o, size_t index, slice s, worker_pipes p) {
  auto start = read_record(p.cmd_fd);
  if (!start || start->type != record::start)
    return 0;  // the parent gave up before starting us
  auto cfg = nlohmann::json::parse(start->body);
  std::string room = cfg.at("room");
  uint64_t base = cfg.at("user_base");
  double workers = cfg.at("workers");
  target_protocol proto(*parse_target(o.target));

  boost::asio::io_context io(1);
  auto fc = make_fleet_config(o);
  // The flags describe the whole run: each worker takes its share.
  fc.connect_rate = std::max(1.0, o.connect_rate / workers);
  fc.max_pending = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(o.max_pending) / workers));
  fanout_receiver rx(room, s.count, proto.has_seqs());
  fleet f(io, fc, rx);
  for (size_t g = s.first; g < s.first + s.count; ++g)
    f.add(base + g, room, g);

  size_t failed = 0;
  auto progress = [&](size_t ready, size_t fail, size_t pending) {
    failed = fail;
    write_record(p.report_fd, record::progress,
                 nlohmann::json{{"ready", ready}, {"failed", fail}, {"pending", pending}}.dump());
  };
  f.progress_hook = progress;
  f.on_close_hook = [&] { progress(f.ready_count(), failed, 0); };

  bool quit = false;
  std::set<uint64_t> flushes, reported;
  record_stream cmd(
    io, p.cmd_fd,
    [&](pipe_record r) {
      if (r.type == record::quit)
        quit = true;
      else if (r.type == record::flush && r.body.size() == sizeof(uint64_t)) {
        uint64_t k = 0;
        std::memcpy(&k, r.body.data(), sizeof k);
        flushes.insert(k);
      }
    },
    [&] { quit = true; });
  cmd.start();

  auto report = f.connect_all();
  progress(report.ready, report.failed, 0);
  write_record(p.report_fd, record::connected,
               nlohmann::json{{"worker", index},
                              {"ready", report.ready},
                              {"failed", report.failed},
                              {"seconds", report.seconds},
                              {"failures", report.failures},
                              {"setup_frames", nlohmann::json(frames_json(f))}}
                 .dump());
  bool quiet = f.settle(std::chrono::milliseconds(500),
                        std::chrono::milliseconds(static_cast<int64_t>(o.settle_s * 1000)));
  write_record(p.report_fd, record::settled, nlohmann::json{{"settled", quiet}}.dump());
  double cpu0 = self_cpu_s();

  auto report_done = [&](uint64_t k) {
    if (!reported.insert(k).second)
      return;
    receipt r = rx.take(k);
    done_header h{k, f.ready_count(), r.received, r.last_recv_ns};
    std::string body(reinterpret_cast<const char*>(&h), sizeof h);
    body.append(reinterpret_cast<const char*>(r.latencies_ns.data()),
                r.latencies_ns.size() * sizeof(int64_t));
    write_record(p.report_fd, record::done, body);
  };
  f.run_until(
    [&] {
      for (auto k : rx.complete(f.ready_count()))
        report_done(k);
      for (auto k : flushes)
        report_done(k);
      flushes.clear();
      return quit;
    },
    steady::now() + std::chrono::hours(24 * 365));

  nlohmann::json fin = {{"worker", index},
                        {"counters", rx.counters()},
                        {"frames", nlohmann::json(frames_json(f))},
                        {"close_reasons", f.close_reasons()},
                        {"closed_after_ready", f.closed_after_ready()},
                        {"ready", f.ready_count()},
                        {"cpu_s_after_settle", self_cpu_s() - cpu0}};
  write_record(p.report_fd, record::final_stats, fin.dump());
  cmd.close();
  f.close_all();
  return 0;
}

} // namespace parley::bench
