#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_test_support.hpp"

// Throughput split over forked workers that each hold whole channels, end to end: the real
// parley-bench binary against a real parleyd and against the ws peer server.

using namespace parley::bench::test;

namespace {

/// A parleyd on a fresh data dir with the rate limits lifted (bench_node_flags).
struct parleyd_server {
  std::filesystem::path dir;
  std::unique_ptr<server_process> proc;
  parleyd_server() {
    char tmpl[] = "/tmp/parley-bench-tp-XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    ::setenv("PARLEY_JWT_SECRET", "bench-test-secret", 1);
    ::setenv("PARLEY_ADMIN_TOKEN", "bench-test-admin", 1);
    proc = std::make_unique<server_process>(std::vector<std::string>{
      PARLEYD_PATH, "--data-dir", dir.string(), "--http-port", "0",
      "--rate.user-per-s=100000", "--rate.user-burst=100000",
      "--rate.workspace-per-s=10000000", "--rate.workspace-burst=10000000"});
  }
  ~parleyd_server() {
    proc.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

// 9 channels x 4 members, 14 clients per process: 3 workers of 3 channels (12 clients).
// 12 senders: channel k mod 9, so channels 0-2 (worker 0) hold 6 senders, the others 3.
const char* split_flags = "throughput --channels 9 --members 4 --senders 12 --duration 1 "
                          "--rate 20 --drain 10 --per-worker 14 --connect-rate 2000 ";

/// Every acked message reached every member, and the workers' parts add up to the totals.
void check_merged(const nlohmann::json& doc, size_t members) {
  CHECK(doc["workers"] == 3);
  CHECK(doc["connect"]["ready"] == 36);
  auto& r = doc["results"];
  INFO(r.dump(2));
  uint64_t sent = r["sent"];
  CHECK(sent > 0);
  CHECK(sent <= 12 * 20);  // --rate 20 per sender over 1 s
  CHECK(r["acked"] == sent);
  CHECK(r["refused"] == 0);
  CHECK(r["misses"] == 0);
  CHECK(r["drained"] == true);
  CHECK(r["errors"].empty());
  CHECK(r["deliveries"] == members * sent);
  CHECK(r["ack_latency"]["count"] == sent);
  CHECK(r["delivery_latency"]["count"] == members * sent);
  CHECK(r["delivery_latency"]["max_ms"].get<double>() > 0);
  CHECK(r["unknown_deliveries"] == 0);
  CHECK(r["wrong_channel"] == 0);
  CHECK(r["workers_reported"] == 3);
  CHECK(doc["frames"]["message.new"] == members * sent);
  std::vector<size_t> senders;
  uint64_t parts_sent = 0, parts_deliveries = 0;
  for (auto& w : r["per_worker"]) {
    CHECK(w["channels"] == 3);
    CHECK(w["misses"] == 0);
    CHECK(w["deliveries"] == members * w["sent"].get<uint64_t>());
    senders.push_back(w["senders"]);
    parts_sent += w["sent"].get<uint64_t>();
    parts_deliveries += w["deliveries"].get<uint64_t>();
  }
  std::sort(senders.begin(), senders.end());
  CHECK(senders == std::vector<size_t>{3, 3, 6});
  CHECK(parts_sent == sent);
  CHECK(parts_deliveries == r["deliveries"].get<uint64_t>());
}

} // namespace

TEST_CASE("throughput over three workers against parleyd delivers every acked message",
          "[bench][throughput]") {
  parleyd_server node;
  auto doc = run_bench(std::string(split_flags) + "--node " + node.proc->url()
                       + " --node-pid " + std::to_string(node.proc->pid()));
  CHECK(doc["target"] == "parley");
  check_merged(doc, 4);
  auto& r = doc["results"];
  // Parley numbers each channel's messages: per-connection order is exact.
  CHECK(r["seq_gaps"] == 0);
  CHECK(r["order_violations"] == 0);
  CHECK(r["membership_missing_in_hello_ack"] == 0);
  CHECK(doc["cost"]["node_cpu_s"].get<double>() > 0);
}

TEST_CASE("throughput over three workers against the ws peer delivers every acked message",
          "[bench][throughput][peers]") {
  if (!peers_installed()) {
    WARN("bench/peers/node_modules missing (run bench/peers/install.sh); not run");
    return;
  }
  server_process ws(peer_argv("ws-server.js"));
  auto doc = run_bench(std::string(split_flags) + "--target ws --node " + ws.url());
  CHECK(doc["target"] == "ws");
  check_merged(doc, 4);
}

TEST_CASE("throughput over two ws processes keeps each room on one process",
          "[bench][throughput][peers]") {
  if (!peers_installed()) {
    WARN("bench/peers/node_modules missing (run bench/peers/install.sh); not run");
    return;
  }
  // A room split over two processes would miss the members on the other one.
  server_process a(peer_argv("ws-server.js"));
  server_process b(peer_argv("ws-server.js"));
  auto doc = run_bench(std::string(split_flags) + "--target ws --node " + a.url() + " --node "
                       + b.url());
  CHECK(doc["nodes"].size() == 2);
  check_merged(doc, 4);
}
