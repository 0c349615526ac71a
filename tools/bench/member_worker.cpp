#include <cstring>
#include <set>

#include "tools/bench/cohort.hpp"
#include "tools/bench/fanout_receiver.hpp"
#include "tools/bench/worker_reporter.hpp"

namespace parley::bench {

// Runs in a forked child: everything here is built after fork, from the options alone.
int run_member_worker(const options& o, size_t index, slice s, worker_pipes p) {
  auto cfg = wait_for_start(p.cmd_fd);
  if (!cfg)
    return 0;  // the parent gave up before starting us
  std::string room = cfg->at("room");
  uint64_t base = cfg->at("user_base");
  double workers = cfg->at("workers");
  target_protocol proto(*parse_target(o.target));

  boost::asio::io_context io(1);
  auto fc = worker_fleet_config(o, workers);
  fanout_receiver rx(room, s.count, proto.has_seqs());
  fleet f(io, fc, rx);
  for (size_t g = s.first; g < s.first + s.count; ++g)
    f.add(base + g, room, g);
  worker_reporter reporter(f, index, p.report_fd);

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

  reporter.connect_and_settle(o);

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

  auto fin = reporter.final_fields();
  fin["counters"] = rx.counters();
  write_record(p.report_fd, record::final_stats, fin.dump());
  cmd.close();
  f.close_all();
  return 0;
}

} // namespace parley::bench
