#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::bench {

/// A command-line mistake: printed with the usage text, exit status 2.
struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One server the clients connect to (loopback address and port), from --node.
struct node_address {
  std::string url;
  std::string host;
  uint16_t port = 0;
};

/// Everything the command line sets; fields unused by a mode are ignored.
struct options {
  std::string mode;                          // throughput | fanout | idle | presence
  std::string target = "parley";             // parley | socketio | ws
  std::string node = "http://127.0.0.1:8080";  // the first --node: admin calls go there
  std::string host = "127.0.0.1";            // from --node, always a loopback address
  uint16_t port = 8080;
  std::vector<node_address> nodes;           // every --node; clients go round robin
  size_t per_worker = 16000;                 // clients per process; more -> forked workers
  std::string admin_token;                   // --admin-token or PARLEY_ADMIN_TOKEN
  std::string secret;                        // --secret or PARLEY_JWT_SECRET
  std::string workspace = "W1";
  std::string json_path;                     // --json FILE
  std::vector<int> node_pids;                // --node-pid, repeatable
  std::vector<std::string> source_ips;       // --source-ip, repeatable: 127.0.0.x to bind
  double connect_rate = 500;                 // new connections per second
  size_t max_pending = 256;                  // connections in flight (TCP + upgrade + hello)
  double connect_timeout_s = 15;             // per connection, TCP connect to hello_ack
  double settle_s = 30;                      // max wait for setup traffic (presence) to calm
  uint64_t user_base = 0;                    // first user number; 0 = derived from the clock
  // throughput
  size_t channels = 10;
  size_t members = 0;                        // 0 = mode default (throughput 10, fanout 1000,
                                             // presence 10000)
  size_t senders = 0;                        // 0 = one per channel
  double duration_s = 10;
  double rate = 0;                           // msgs/s per sender; 0 = as fast as the window allows
  size_t window = 8;                         // max unacked messages per sender
  size_t text_bytes = 0;                     // pad message text to this size
  double drain_s = -1;                       // after sending / closing, wait for stragglers;
                                             // < 0 = mode default (5, presence 2)
  // fanout
  size_t messages = 20;
  unsigned pause_ms = 200;
  unsigned timeout_ms = 10000;               // per message, to reach every recipient
  // idle
  size_t connections = 1000;
  size_t idle_channels = 0;                  // idle: spread connections over this many channels
  double hold_s = -1;                        // < 0 = mode default (idle 5, presence 2)
  // presence
  double watchers = 0.05;                    // fraction of the members that subscribe
  size_t watch = 100;                        // users each watcher subscribes to
};

/// How many clients the mode opens in total.
size_t client_count(const options& o);

/// Parses argv; throws usage_error on a mistake (unknown flag, bad number, non-loopback node).
options parse_options(int argc, char** argv);

/// The --help text, including how to start a node for benchmarks.
std::string usage_text();

/// The node flags that lift the default rate limits (1 msg/s per user per channel).
inline const char* bench_node_flags =
  "--rate.user-per-s=100000 --rate.user-burst=100000 "
  "--rate.workspace-per-s=10000000 --rate.workspace-burst=10000000";

} // namespace parley::bench
