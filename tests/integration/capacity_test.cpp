#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/integration/node_process.hpp"

using namespace parley::test;

namespace {

/// utime + stime of a process in seconds (/proc/PID/stat fields 14 and 15).
double cpu_seconds(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields{stat.substr(stat.rfind(')') + 2)};
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14)
      utime = std::stol(f);
    if (i == 15)
      stime = std::stol(f);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

int connect_raw(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

uint16_t port_of(const node_process& node) {
  return static_cast<uint16_t>(std::stoi(node.base_url().substr(node.base_url().rfind(':') + 1)));
}

} // namespace

TEST_CASE("a node out of file descriptors pauses accepting instead of spinning and recovers",
          "[integration][capacity]") {
  node_process node;
  // Lower the running node's limit so that accept() fails with EMFILE.
  rlimit low{64, 64};
  REQUIRE(prlimit(node.pid(), RLIMIT_NOFILE, &low, nullptr) == 0);
  std::vector<int> sockets;
  for (int i = 0; i < 100; ++i) {
    int fd = connect_raw(port_of(node));
    if (fd >= 0)
      sockets.push_back(fd);
  }
  REQUIRE(sockets.size() > 64);
  // Saturated: the node must not burn a core retrying accept.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto before = cpu_seconds(node.pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto used = cpu_seconds(node.pid()) - before;
  CHECK(used < 0.3);
  for (int fd : sockets)
    ::close(fd);
  // Once descriptors are free again it serves as before.
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    try {
      status = node.http("GET", "/healthz").status;
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  CHECK(status == 200);
  CHECK(node.log_tail(200).find("accept failed") != std::string::npos);
}

TEST_CASE("upgrades beyond the connection cap get HTTP 429 and no 101", "[integration][capacity]") {
  node_process node{{"--max-connections=2"}};
  auto a = open_socket(node, "U1");
  auto b = open_socket(node, "U2");
  parley::client::ws_client c;
  auto refused = c.connect(node.base_url(), ws_target(node_process::token("U3")));
  CHECK(refused.status == 429);
  CHECK(nlohmann::json::parse(refused.body)["code"] == "rate_limited");
  // Counted once, in the family the dashboard reads (cluster-config/grafana-dashboard.json).
  auto metrics = node.http("GET", "/metrics").body;
  CHECK(metrics.find("parley_connections_refused_total{reason=\"capacity\"} 1\n")
        != std::string::npos);
  CHECK(metrics.find("parley_connections_rejected_total") == std::string::npos);
}
