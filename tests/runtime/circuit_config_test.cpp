#include <catch2/catch.hpp>

#include <chrono>

#include "runtime/config.hpp"

using parley::parse_config;
using namespace std::chrono_literals;

TEST_CASE("the inter-node deadline and circuit keys set the node limits, bad values are refused",
          "[runtime][config][circuit]") {
  auto def = parse_config({});
  CHECK(def.limits.internode_deadline == 50ms);
  CHECK(def.limits.peer_dead_after == 2s);
  CHECK(def.limits.circuit_failures == 1);
  CHECK(def.limits.circuit_probe_interval == 10s);

  auto cfg = parse_config({"--fanout.internode-deadline-ms=20", "--fanout.circuit-failures=3",
                           "--fanout.circuit-probe-ms=1500", "--fanout.peer-dead-ms=700"});
  CHECK(cfg.limits.internode_deadline == 20ms);
  CHECK(cfg.limits.peer_dead_after == 700ms);
  CHECK(cfg.limits.circuit_failures == 3);
  CHECK(cfg.limits.circuit_probe_interval == 1500ms);
  // 0 turns confirmation (and so the circuit) off.
  CHECK(parse_config({"--fanout.internode-deadline-ms=0"}).limits.internode_deadline.count() == 0);

  CHECK_THROWS_WITH(parse_config({"--fanout.circuit-failures=0"}),
                    Catch::Contains("fanout.circuit-failures"));
  CHECK_THROWS_WITH(parse_config({"--fanout.peer-dead-ms=0"}),
                    Catch::Contains("fanout.peer-dead-ms"));
  CHECK_THROWS_WITH(parse_config({"--fanout.circuit-probe-ms=0"}),
                    Catch::Contains("fanout.circuit-probe-ms"));
  CHECK_THROWS_WITH(parse_config({"--fanout.internode-deadline-ms=soon"}),
                    Catch::Contains("integer"));
}
