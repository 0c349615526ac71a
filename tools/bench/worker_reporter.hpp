#pragma once

#include <cstddef>
#include <optional>

#include <nlohmann/json.hpp>

#include "tools/bench/common.hpp"
#include "tools/bench/workers.hpp"

namespace parley::bench {

// A forked worker's side of the run that every worker body shares: waiting for the start
// record, its share of the fleet flags, and its reports on connecting and at the end.

/// The parent's start record, parsed; nullopt when the parent gave up before starting us.
std::optional<nlohmann::json> wait_for_start(int cmd_fd);

/// The fleet settings of one of `workers` workers: the flags describe the whole run, so each
/// worker takes its share of the connect rate and of the connects in flight.
fleet_config worker_fleet_config(const options& o, double workers);

/// Reports one worker's fleet to the parent. Installs the fleet's progress hooks, which refer
/// to this object: it must outlive the fleet's runs.
class worker_reporter {
public:
  worker_reporter(fleet& f, size_t index, int report_fd);
  worker_reporter(const worker_reporter&) = delete;
  worker_reporter& operator=(const worker_reporter&) = delete;

  /// Connects every client and waits for setup traffic to calm down, reporting both; the
  /// CPU clock of final_fields() starts here.
  void connect_and_settle(const options& o);

  /// The fields of the final_stats record every worker sends: frames, closes, ready clients
  /// and CPU since settled. The body adds its own counters.
  nlohmann::json final_fields() const;

private:
  void progress(size_t ready, size_t failed, size_t pending);

  fleet& f_;
  size_t index_;
  int report_fd_;
  size_t failed_ = 0;
  double cpu0_ = 0;
};

} // namespace parley::bench
