#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/node_process.hpp"

namespace parley::test {

/// A local cluster of real `parleyd` processes (docs/architecture.md "Configuration and launch").
///
/// Writes a cluster file into a temp dir — nodes n1 … nN on 127.0.0.1 with free BASP and HTTP
/// ports, `storage` = a fresh PostgreSQL database `parley_cluster_<pid>_<n>` created on the
/// server of PARLEY_TEST_POSTGRES (dropped in the destructor), or, when that variable is unset,
/// a shared SQLite file in the temp dir (with a WARN) — starts every node with
/// `--config FILE --node NAME` plus `extra_args`, and waits (20 s at most) until each printed
/// `cluster live nodes: n1,…,nN`.
class cluster_process {
public:
  explicit cluster_process(std::vector<std::string> extra_args = {}, size_t nodes = 3);
  ~cluster_process();

  cluster_process(const cluster_process&) = delete;
  cluster_process& operator=(const cluster_process&) = delete;

  size_t size() const { return nodes_.size(); }

  /// Node i (0-based); its name is name(i).
  node_process& node(size_t i) { return *nodes_.at(i); }
  const node_process& node(size_t i) const { return *nodes_.at(i); }

  /// "n<i+1>".
  static std::string name(size_t i) { return "n" + std::to_string(i + 1); }

  /// The storage connection string every node runs on.
  const std::string& storage() const { return storage_; }

  /// True when the nodes share a PostgreSQL database (else a SQLite file).
  bool on_postgres() const { return !database_.empty(); }

  /// The cluster file.
  const std::string& config_file() const { return config_file_; }

  /// Kills node i with SIGKILL (a crash) and reaps it.
  void kill9(size_t i) { node(i).kill9(); }

  /// Starts node i again (same ports, same cluster file); does not wait for membership.
  void restart(size_t i) { node(i).restart(); }

  /// Marks of every node's output, for wait_live.
  std::vector<uint64_t> marks() const;

  /// Waits until every node in `which` printed `cluster live nodes: <live>` (the names of
  /// `live`, comma separated) after its mark; REQUIREs it within `timeout`.
  void require_live(const std::vector<size_t>& which, const std::vector<size_t>& live,
                    const std::vector<uint64_t>& marks,
                    std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;

  /// The counters and gauges of node i's /metrics (name → value; labelled series skipped).
  std::map<std::string, double> metrics(size_t i) const;

  /// One counter of node i's /metrics (REQUIREs it is present).
  uint64_t metric(size_t i, const std::string& name) const;

private:
  std::string dir_;
  std::string config_file_;
  std::string storage_;
  std::string admin_connection_; // PostgreSQL admin connection (libpq conninfo)
  std::string database_;         // the database created for this cluster
  std::vector<std::unique_ptr<node_process>> nodes_;
};

/// `n` distinct free TCP ports on 127.0.0.1 (bound to port 0 together, then closed).
std::vector<uint16_t> free_ports(size_t n);

} // namespace parley::test
