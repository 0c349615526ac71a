#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// What the end-to-end bench tests share: a server process to run against, whether the node
// peer servers are installed, and a run of the real parley-bench binary.

namespace parley::bench::test {

/// One server process (parleyd or a peer) on a free port; stopped on destruction. It prints
/// "... listening on http://127.0.0.1:PORT..." on stdout once it listens.
class server_process {
public:
  explicit server_process(std::vector<std::string> argv);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  const std::string& url() const { return url_; }
  int pid() const { return static_cast<int>(pid_); }

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string url_;
};

/// The argv of a node peer server (bench/peers/<script>) on a free port.
std::vector<std::string> peer_argv(const std::string& script);

/// Whether the peer servers can run; scripts/test.sh installs them, so in CI their absence
/// is a failure rather than a skip.
bool peers_installed();

/// Runs `parley-bench <args> --json FILE` (REQUIREs exit 0) and returns the JSON report.
nlohmann::json run_bench(const std::string& args);

} // namespace parley::bench::test
