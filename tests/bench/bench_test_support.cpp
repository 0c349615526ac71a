#include "tests/bench/bench_test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace parley::bench::test {

server_process::server_process(std::vector<std::string> argv) {
  int out[2];
  REQUIRE(::pipe(out) == 0);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 2);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out[1]);
  out_ = out[0];  // kept open: the server may write again on shutdown
  std::string line;
  for (char c; ::read(out_, &c, 1) == 1;) {
    if (c != '\n') {
      line += c;
      continue;
    }
    if (line.find("listening on") != std::string::npos)
      break;
    line.clear();
  }
  auto at = line.find("http://");
  REQUIRE(at != std::string::npos);
  url_ = line.substr(at, line.find(' ', at) - at);
}

server_process::~server_process() {
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  ::close(out_);
}

std::vector<std::string> peer_argv(const std::string& script) {
  return {"node", std::string(PARLEY_PEERS_DIR) + "/" + script, "0"};
}

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

} // namespace parley::bench::test
