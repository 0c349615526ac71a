#include <catch2/catch.hpp>

#include "tests/bench/bench_test_support.hpp"

// Real peer servers (node bench/peers/*.js) driven by the real parley-bench binary: forked
// workers, pipes and both peer dialects end to end.

using namespace parley::bench::test;

TEST_CASE("fan-out through forked workers reaches every member of a ws room",
          "[bench][peers]") {
  if (!peers_installed()) {
    WARN("bench/peers/node_modules missing (run bench/peers/install.sh); not run");
    return;
  }
  server_process ws(peer_argv("ws-server.js"));
  auto doc = run_bench("fanout --target ws --members 40 --per-worker 15 --messages 3 "
                       "--pause-ms 0 --connect-rate 2000 --node " + ws.url()
                       + " --node-pid " + std::to_string(ws.pid()));
  CHECK(doc["target"] == "ws");
  CHECK(doc["workers"] == 3);  // 39 members beyond the publisher, 15 per worker
  CHECK(doc["connect"]["ready"] == 40);
  CHECK(doc["results"]["messages"] == 3);
  CHECK(doc["results"]["misses"] == 0);
  CHECK(doc["results"]["all_deliveries"]["count"] == 120);
  CHECK(doc["results"]["all_deliveries"]["max_ms"].get<double>() > 0);
  CHECK(doc["frames"]["message.new"] == 120);
}

TEST_CASE("fan-out over two socketio processes publishes to each and reaches everyone",
          "[bench][peers]") {
  if (!peers_installed()) {
    WARN("bench/peers/node_modules missing (run bench/peers/install.sh); not run");
    return;
  }
  server_process a(peer_argv("socketio-server.js")), b(peer_argv("socketio-server.js"));
  auto doc = run_bench("fanout --target socketio --members 30 --per-worker 10 --messages 2 "
                       "--pause-ms 0 --connect-rate 2000 --node " + a.url() + " --node " + b.url());
  CHECK(doc["target"] == "socketio");
  CHECK(doc["nodes"].size() == 2);
  CHECK(doc["workers"] == 3);  // 2 publishers in the parent, 28 members in workers of 10
  CHECK(doc["connect"]["ready"] == 30);
  CHECK(doc["results"]["misses"] == 0);
  CHECK(doc["results"]["all_deliveries"]["count"] == 60);
  CHECK(doc["results"]["ack_ms"]["count"] == 2);
}

TEST_CASE("a small throughput run against ws counts every delivery", "[bench][peers]") {
  if (!peers_installed()) {
    WARN("bench/peers/node_modules missing (run bench/peers/install.sh); not run");
    return;
  }
  server_process ws(peer_argv("ws-server.js"));
  auto doc = run_bench("throughput --target ws --channels 2 --members 5 --senders 2 --duration 1 "
                       "--rate 20 --drain 2 --node " + ws.url());
  auto& r = doc["results"];
  CHECK(r["sent"].get<uint64_t>() > 0);
  CHECK(r["acked"] == r["sent"]);
  CHECK(r["deliveries"].get<uint64_t>() == 5 * r["sent"].get<uint64_t>());
  CHECK(r["misses"] == 0);
}
