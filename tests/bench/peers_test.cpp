#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

// Real peer servers (node bench/peers/*.js) driven by the real parley-bench binary: forked
// workers, pipes and both peer dialects end to end.

namespace {

/// One peer server process on a free port; stopped on destruction.
class peer_server {
public:
  peer_server(const std::string& script) {
    int out[2];
    REQUIRE(::pipe(out) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::close(out[0]);
      ::close(out[1]);
      std::string path = std::string(PARLEY_PEERS_DIR) + "/" + script;
      ::execlp("node", "node", path.c_str(), "0", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    // The server prints "...: listening on http://127.0.0.1:PORT pid PID" once it listens.
    std::string line;
    char c;
    while (::read(out[0], &c, 1) == 1 && c != '\n')
      line += c;
    ::close(out[0]);
    auto at = line.find("http://");
    REQUIRE(at != std::string::npos);
    url_ = line.substr(at, line.find(' ', at) - at);
  }
  ~peer_server() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  const std::string& url() const { return url_; }
  int pid() const { return static_cast<int>(pid_); }

private:
  pid_t pid_ = -1;
  std::string url_;
};

/// Whether the peer servers can run; scripts/test.sh installs them, so in CI their absence
/// is a failure rather than a skip.
bool peers_installed() {
  std::ifstream f(std::string(PARLEY_PEERS_DIR) + "/node_modules/ws/package.json");
  bool ok = f.good() && std::system("node --version >/dev/null 2>&1") == 0;
  if (!ok && std::getenv("CI") != nullptr)
    FAIL("bench/peers/node_modules missing in CI (scripts/test.sh runs bench/peers/install.sh)");
  return ok;
}

nlohmann::json run_bench(const std::string& args) {
  std::string json = "/tmp/parley-bench-test-" + std::to_string(::getpid()) + ".json";
  std::string cmd = std::string(PARLEY_BENCH_PATH) + " " + args + " --json " + json
                    + " >/dev/null 2>&1";
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(json);
  auto doc = nlohmann::json::parse(in);
  std::remove(json.c_str());
  return doc;
}

} // namespace

TEST_CASE("fan-out through forked workers reaches every member of a ws room",
          "[bench][peers]") {
  if (!peers_installed()) {
    WARN("bench/peers/node_modules missing (run bench/peers/install.sh); not run");
    return;
  }
  peer_server ws("ws-server.js");
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
  peer_server a("socketio-server.js"), b("socketio-server.js");
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
  peer_server ws("ws-server.js");
  auto doc = run_bench("throughput --target ws --channels 2 --members 5 --senders 2 --duration 1 "
                       "--rate 20 --drain 2 --node " + ws.url());
  auto& r = doc["results"];
  CHECK(r["sent"].get<uint64_t>() > 0);
  CHECK(r["acked"] == r["sent"]);
  CHECK(r["deliveries"].get<uint64_t>() == 5 * r["sent"].get<uint64_t>());
  CHECK(r["misses"] == 0);
}
