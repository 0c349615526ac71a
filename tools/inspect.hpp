#pragma once

#include <map>
#include <string>
#include <vector>

namespace parley::tools {

/// One sample of the Prometheus text format: labels and value.
struct prom_sample {
  std::map<std::string, std::string> labels;
  double value = 0;
};

/// Parses Prometheus text exposition into samples by metric name (comments skipped).
std::map<std::string, std::vector<prom_sample>> parse_prometheus(const std::string& text);

/// The `histogram_quantile` of cumulative buckets (upper bound -> count), interpolated
/// linearly inside the bucket; -1 without observations.
double histogram_quantile(double q, const std::vector<std::pair<double, double>>& buckets);

/// `parley inspect --node URL [--node URL ...] [--once] [--json] [--interval-ms 1000]
/// [--admin-token T] [--cacert PATH]`: a top-like view of nodes, busiest channels and actor kinds
/// from each node's /metrics (and /v1/admin/actors with an admin token). `args` follow "inspect".
/// Returns the exit status; with --once a dead node prints one line and returns 1.
int run_inspect(const std::vector<std::string>& args);

} // namespace parley::tools
