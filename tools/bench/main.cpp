// parley-bench: load generator for Parley and its peers (issue 4). See `parley-bench --help`.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "tools/bench/cohort.hpp"
#include "tools/bench/plan.hpp"
#include "tools/bench/scenarios.hpp"

using namespace parley::bench;

namespace {

/// The ephemeral port range (net.ipv4.ip_local_port_range), or 0 when unreadable.
size_t ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  size_t lo = 0, hi = 0;
  if (in >> lo >> hi && hi >= lo)
    return hi - lo + 1;
  return 0;
}

// One source address reaches one node on at most `ports` connections; past that, spread the
// clients over more 127.0.0.x sources (IP_BIND_ADDRESS_NO_PORT keeps ports per 4-tuple).
void choose_sources(options& o, size_t clients) {
  size_t ports = ephemeral_ports();
  if (ports == 0 || !o.source_ips.empty())
    return;
  size_t per_node = (clients + o.nodes.size() - 1) / o.nodes.size();
  size_t usable = ports * 9 / 10;
  if (ports < 20000)
    std::fprintf(stderr, "note: the ephemeral port range is narrow (%zu ports); widen it with "
                         "sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"\n", ports);
  if (per_node <= usable)
    return;
  size_t n = (per_node + usable - 1) / usable;
  for (size_t i = 0; i < n; ++i)
    o.source_ips.push_back("127.0.0." + std::to_string(1 + i));
  std::fprintf(stderr, "note: %zu clients per node exceed one source address's %zu ephemeral "
                       "ports; binding sources 127.0.0.1 ... 127.0.0.%zu\n", per_node, ports, n);
}

} // namespace

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
  auto plan = plan_processes(o, fd_limit);
  if (!plan.error.empty()) {
    std::cerr << "parley-bench: " << plan.error << "\n";
    return 2;
  }
  size_t clients = plan.clients, workers = plan.workers;
  choose_sources(o, clients);
  std::unique_ptr<worker_pool> pool;
  try {
    // Fork before any io_context or socket exists: each worker builds its own.
    if (workers > 0 && o.mode == "throughput")
      pool = std::make_unique<worker_pool>(
        split(0, o.channels, workers),  // slices of channels
        [&o](size_t i, slice s, worker_pipes p) { return run_throughput_worker(o, i, s, p); });
    else if (workers > 0)
      pool = std::make_unique<worker_pool>(
        split(plan.publishers, clients, workers),
        [&o](size_t i, slice s, worker_pipes p) { return run_member_worker(o, i, s, p); });
    std::unique_ptr<admin_api> admin;
    if (o.target == "parley") {
      admin = std::make_unique<admin_api>(o.host, o.port, o.admin_token);
      if (!admin->healthy()) {
        std::cerr << "parley-bench: no healthy node at " << o.node << " (GET /healthz)\n"
                  << "start one, e.g.: PARLEY_JWT_SECRET=s PARLEY_ADMIN_TOKEN=a parleyd "
                  << "--data-dir /tmp/bench-data --http-port 0 " << bench_node_flags << "\n";
        return 1;
      }
    }
    std::printf("parley-bench %s against %s [%s] x%zu node(s) (%u cores here, fd limit %llu, "
                "%zu worker process(es))\n",
                o.mode.c_str(), o.node.c_str(), o.target.c_str(), o.nodes.size(),
                std::thread::hardware_concurrency(), static_cast<unsigned long long>(fd_limit),
                workers);
    ojson result;
    if (o.mode == "throughput")
      result = run_throughput(o, admin.get(), pool.get());
    else if (o.mode == "fanout")
      result = run_fanout(o, admin.get(), pool.get());
    else if (o.mode == "presence")
      result = run_presence(o, *admin);  // parse_options allows only --target parley
    else
      result = run_idle(o, admin.get(), pool.get());
    ojson doc;
    doc["tool"] = "parley-bench";
    doc["mode"] = o.mode;
    doc["target"] = o.target;
    doc["node"] = o.node;
    ojson nodes = ojson::array();
    for (auto& n : o.nodes)
      nodes.push_back(n.url);
    doc["nodes"] = nodes;
    doc["node_pids"] = o.node_pids;
    doc["nproc"] = std::thread::hardware_concurrency();
    doc["connect_rate"] = o.connect_rate;
    doc["source_ips"] = o.source_ips;
    doc["workers"] = workers;
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
