#include "tools/bench/scenarios.hpp"
#include "tools/bench/throughput_run.hpp"

namespace parley::bench {

namespace {

steady::time_point at_ns(int64_t ns) {
  return steady::time_point(std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}

} // namespace

// Runs in a forked child: everything here is built after fork, from the options and the
// parent's start record. `s` is a range of channels, not of clients.
int run_throughput_worker(const options& o, size_t index, slice s, worker_pipes p) {
  auto start = read_record(p.cmd_fd);
  if (!start || start->type != record::start)
    return 0;  // the parent gave up before starting us
  auto cfg = nlohmann::json::parse(start->body);
  uint64_t base = cfg.at("user_base");
  double workers = cfg.at("workers");
  auto ids = cfg.at("channel_ids").get<std::vector<std::string>>();
  if (s.first + s.count > ids.size())
    throw std::runtime_error("start record lists too few channels");
  auto share = make_share(o, s.first, std::vector<std::string>(ids.begin() + s.first,
                                                               ids.begin() + s.first + s.count));

  boost::asio::io_context io(1);
  auto fc = make_fleet_config(o);
  // The flags describe the whole run: each worker takes its share.
  fc.connect_rate = std::max(1.0, o.connect_rate / workers);
  fc.max_pending = std::max<size_t>(1, static_cast<size_t>(static_cast<double>(o.max_pending) / workers));
  throughput_run run(o, share);
  fleet f(io, fc, run);
  run.set_fleet(&f);
  add_share_clients(f, o, base, share);

  size_t failed = 0;
  auto progress = [&](size_t ready, size_t fail, size_t pending) {
    failed = fail;
    write_record(p.report_fd, record::progress,
                 nlohmann::json{{"ready", ready}, {"failed", fail}, {"pending", pending}}.dump());
  };
  f.progress_hook = progress;
  f.on_close_hook = [&] { progress(f.ready_count(), failed, 0); };

  bool quit = false, go = false;
  int64_t start_ns = 0, end_ns = 0;
  record_stream cmd(
    io, p.cmd_fd,
    [&](pipe_record r) {
      if (r.type == record::quit)
        quit = true;
      else if (r.type == record::go) {
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        if (j.is_object()) {
          start_ns = j.value("start_ns", int64_t{0});
          end_ns = j.value("end_ns", int64_t{0});
          go = true;
        }
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
  auto forever = steady::now() + std::chrono::hours(24 * 365);

  // The parent sends the common window once every worker settled.
  f.run_until([&] { return go || quit; }, forever);
  bool drained = false;
  if (go && !quit) {
    run.start(start_ns, end_ns);
    f.run_until(
      [&] {
        run.pump_all(now_ns());
        return quit;
      },
      at_ns(end_ns));
    drained = f.run_until([&] { return run.drained() || quit; },
                          at_ns(end_ns) + std::chrono::milliseconds(
                                            static_cast<int64_t>(o.drain_s * 1000)))
              && run.drained();
  }
  // Samples first: the parent merges once final_stats arrived.
  write_record(p.report_fd, record::samples,
               encode_samples(run.ack_samples(), run.delivery_samples()));
  nlohmann::json fin = {{"worker", index},
                        {"channels", s.count},
                        {"senders", share.senders.size()},
                        {"counters", run.counters()},
                        {"drained", drained},
                        {"frames", nlohmann::json(frames_json(f))},
                        {"close_reasons", f.close_reasons()},
                        {"closed_after_ready", f.closed_after_ready()},
                        {"ready", f.ready_count()},
                        {"cpu_s_after_settle", self_cpu_s() - cpu0}};
  write_record(p.report_fd, record::final_stats, fin.dump());
  // Stay connected until the parent ends the run: closes now would load the node while
  // other workers still drain.
  f.run_until([&] { return quit; }, forever);
  cmd.close();
  f.close_all();
  return 0;
}

} // namespace parley::bench
