// parley-bench's command line (tools/bench/options.hpp): every flag described in --help, the
// flags bench/*.sh pass, and one-line errors naming the flag.

#include <catch2/catch.hpp>

#include "tests/support/help_text.hpp"

#include <sstream>
#include <string>
#include <vector>

#include "tools/bench/options.hpp"

using namespace parley::bench;

namespace {

options parse(std::vector<std::string> args) {
  args.insert(args.begin(), "parley-bench");
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

} // namespace

TEST_CASE("parley-bench --help describes every flag", "[bench][options]") {
  const std::vector<std::string> flags = {
    "node", "target", "per-worker", "admin-token", "secret", "workspace", "node-pid", "json",
    "connect-rate", "max-pending", "connect-timeout", "source-ip", "user-base", "settle",
    "members", "channels", "text-bytes", "senders", "duration", "rate", "window", "drain",
    "messages", "pause-ms", "timeout-ms", "connections", "hold", "watchers", "watch"};
  auto text = usage_text();
  for (auto& flag : flags) {
    INFO(flag);
    CHECK(text.find("\n  --" + flag + " ") != std::string::npos);
  }
  auto listed = parley::test::described_options(text);
  CHECK(listed == flags.size());
  CHECK(parse({"fanout", "--bogus", "-h"}).mode == "--help");
}

TEST_CASE("parley-bench reads the flags bench/*.sh pass", "[bench][options]") {
  auto fanout = parse({"fanout", "--members", "50000", "--messages", "20", "--pause-ms=100",
                       "--connect-rate", "2000", "--timeout-ms", "20000", "--settle", "60",
                       "--target", "ws", "--node", "http://127.0.0.1:8401", "--node",
                       "http://localhost:8402/", "--node-pid", "11", "--node-pid", "12",
                       "--json", "out.json"});
  CHECK(fanout.mode == "fanout");
  CHECK(fanout.members == 50000);
  CHECK(fanout.messages == 20);
  CHECK(fanout.pause_ms == 100);
  CHECK(fanout.connect_rate == 2000);
  CHECK(fanout.timeout_ms == 20000);
  CHECK(fanout.settle_s == 60);
  CHECK(fanout.target == "ws");
  REQUIRE(fanout.nodes.size() == 2);
  CHECK(fanout.port == 8401);
  CHECK(fanout.nodes[1].host == "127.0.0.1");
  CHECK(fanout.node_pids == std::vector<int>{11, 12});
  CHECK(fanout.json_path == "out.json");

  auto tp = parse({"throughput", "--channels", "100", "--members", "10", "--senders", "100",
                   "--duration", "15", "--admin-token", "a", "--secret", "s"});
  CHECK(tp.channels == 100);
  CHECK(tp.senders == 100);
  CHECK(tp.duration_s == 15);
  CHECK(tp.idle_channels == 100);
  CHECK(tp.node == "http://127.0.0.1:8080");

  auto idle = parse({"idle", "--connections", "10000", "--hold", "10", "--target=ws",
                     "--members", "3", "--members=4"});
  CHECK(idle.connections == 10000);
  CHECK(idle.hold_s == 10);
  CHECK(idle.idle_channels == 0); // no --channels: connections join no channel
  CHECK(idle.members == 4);       // a later value replaces an earlier one
  CHECK(idle.hold_s == 10);

  auto presence = parse({"presence", "--members", "10000", "--watchers", "0.05", "--watch",
                         "100", "--connect-rate", "2000", "--admin-token", "a", "--secret", "s"});
  CHECK(presence.mode == "presence");
  CHECK(presence.members == 10000);
  CHECK(presence.watchers == 0.05);
  CHECK(presence.watch == 100);
  CHECK(client_count(presence) == 10000);
}

TEST_CASE("parley-bench fills mode defaults the flags left open", "[bench][options]") {
  auto presence = parse({"presence", "--admin-token", "a", "--secret", "s"});
  CHECK(presence.members == 10000);
  CHECK(presence.watchers == 0.05);
  CHECK(presence.watch == 100);
  CHECK(presence.hold_s == 2);
  CHECK(presence.drain_s == 2);
  auto idle = parse({"idle", "--target", "ws"});
  CHECK(idle.hold_s == 5);
  CHECK(parse({"throughput", "--target", "ws"}).drain_s == 5);
  CHECK(parse({"presence", "--watchers", "0", "--members", "1", "--admin-token", "a",
               "--secret", "s"}).watchers == 0);
}

TEST_CASE("parley-bench refuses bad flags with one line naming the flag", "[bench][options]") {
  CHECK_THROWS_WITH(parse({"warp"}), "unknown mode 'warp'");
  CHECK_THROWS_WITH(parse({"fanout", "--bogus", "1"}), "unknown flag '--bogus'");
  CHECK_THROWS_WITH(parse({"fanout", "--mem=3"}), "unknown flag '--mem'");
  CHECK_THROWS_WITH(parse({"fanout", "--target", "ws", "--members", "x"}),
                    "--members needs a number >= 1, got 'x'");
  CHECK_THROWS_WITH(parse({"throughput", "--target", "ws", "--duration", "0.01"}),
                    "--duration needs a number >= 0.1, got '0.01'");
  CHECK_THROWS_WITH(parse({"fanout", "--target", "ws", "--node", "http://10.1.2.3:80"}),
                    Catch::StartsWith("--node host must be localhost or in 127.0.0.0/8"));
  CHECK_THROWS_WITH(parse({"fanout", "--target", "tcp"}),
                    "--target must be parley, socketio or ws, got 'tcp'");
  CHECK_THROWS_WITH(parse({"fanout", "--target", "ws", "--members"}),
                    Catch::Contains("'--members'"));
  CHECK_THROWS_WITH(parse({"fanout", "--target", "ws", "extra"}), "unexpected argument 'extra'");
  CHECK_THROWS_WITH(parse({"presence", "--target", "ws"}), Catch::StartsWith(
                      "presence needs --target parley"));
  CHECK_THROWS_WITH(parse({"presence", "--watchers", "1.5"}),
                    "--watchers is a fraction of the members, 0 ... 1, got '1.5'");
  CHECK_THROWS_WITH(parse({"presence", "--watch", "501"}),
                    Catch::StartsWith("--watch must be at most 500"));
  CHECK_THROWS_WITH(parse({"presence", "--members", "100", "--watch", "100", "--admin-token",
                           "a", "--secret", "s"}),
                    Catch::StartsWith("--watch must be below --members"));
}
