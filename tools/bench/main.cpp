// parley-bench: load generator for a Parley node (issue 4). See `parley-bench --help`.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "tools/bench/scenarios.hpp"

using namespace parley::bench;

int main(int argc, char** argv) {
  options o;
  try {
    o = parse_options(argc, argv);
  } catch (const usage_error& e) {
    std::cerr << "parley-bench: " << e.what() << "\n\n" << usage_text();
    return 2;
  }
  if (o.mode == "--help" || o.mode == "-h") {
    std::cout << usage_text();
    return 0;
  }
  // Each client is one socket; the soft limit is often far below the hard one.
  uint64_t fd_limit = raise_fd_limit();
  size_t clients = o.mode == "throughput" ? o.channels * o.members
                   : o.mode == "fanout"   ? o.members
                                          : o.connections;
  if (clients + 64 > fd_limit) {
    std::cerr << "parley-bench: " << clients << " connections need more file descriptors than "
              << "RLIMIT_NOFILE allows (" << fd_limit << "); use fewer connections\n";
    return 2;
  }
  try {
    admin_api admin(o.host, o.port, o.admin_token);
    if (!admin.healthy()) {
      std::cerr << "parley-bench: no healthy node at " << o.node << " (GET /healthz)\n"
                << "start one, e.g.: PARLEY_JWT_SECRET=s PARLEY_ADMIN_TOKEN=a parleyd "
                << "--data-dir /tmp/bench-data --http-port 0 " << bench_node_flags << "\n";
      return 1;
    }
    std::printf("parley-bench %s against %s (%u cores here, fd limit %llu)\n", o.mode.c_str(),
                o.node.c_str(), std::thread::hardware_concurrency(),
                static_cast<unsigned long long>(fd_limit));
    ojson result;
    if (o.mode == "throughput")
      result = run_throughput(o, admin);
    else if (o.mode == "fanout")
      result = run_fanout(o, admin);
    else
      result = run_idle(o, admin);
    ojson doc;
    doc["tool"] = "parley-bench";
    doc["mode"] = o.mode;
    doc["node"] = o.node;
    doc["node_pids"] = o.node_pids;
    doc["nproc"] = std::thread::hardware_concurrency();
    doc["connect_rate"] = o.connect_rate;
    for (auto& [k, v] : result.items())
      doc[k] = v;
    if (!o.json_path.empty()) {
      std::ofstream out(o.json_path);
      out << doc.dump(2) << "\n";
      if (!out) {
        std::cerr << "parley-bench: cannot write " << o.json_path << "\n";
        return 1;
      }
    }
    return 0;
  } catch (const setup_error& e) {
    std::cerr << "parley-bench: setup failed: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "parley-bench: " << e.what() << "\n";
    return 1;
  }
}
