#include "tools/bench/scenarios.hpp"
#include "tools/bench/throughput_run.hpp"
#include "tools/bench/worker_reporter.hpp"

namespace parley::bench {

namespace {

steady::time_point at_ns(int64_t ns) {
  return steady::time_point(
    std::chrono::duration_cast<steady::duration>(std::chrono::nanoseconds(ns)));
}

} // namespace

// Runs in a forked child: everything here is built after fork, from the options and the
// parent's start record. `s` is a range of channels, not of clients.
int run_throughput_worker(const options& o, size_t index, slice s, worker_pipes p) {
  auto cfg = wait_for_start(p.cmd_fd);
  if (!cfg)
    return 0;  // the parent gave up before starting us
  uint64_t base = cfg->at("user_base");
  double workers = cfg->at("workers");
  auto ids = cfg->at("channel_ids").get<std::vector<std::string>>();
  if (s.first + s.count > ids.size())
    throw std::runtime_error("start record lists too few channels");
  auto share = make_share(o, s.first, std::vector<std::string>(ids.begin() + s.first,
                                                               ids.begin() + s.first + s.count));

  boost::asio::io_context io(1);
  auto fc = worker_fleet_config(o, workers);
  throughput_run run(o, share);
  fleet f(io, fc, run);
  run.set_fleet(&f);
  add_share_clients(f, o, base, share);
  worker_reporter reporter(f, index, p.report_fd);

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

  reporter.connect_and_settle(o);
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
  auto fin = reporter.final_fields();
  fin["channels"] = s.count;
  fin["senders"] = share.senders.size();
  fin["counters"] = run.counters();
  fin["drained"] = drained;
  write_record(p.report_fd, record::final_stats, fin.dump());
  // Stay connected until the parent ends the run: closes now would load the node while
  // other workers still drain.
  f.run_until([&] { return quit; }, forever);
  cmd.close();
  f.close_all();
  return 0;
}

} // namespace parley::bench
