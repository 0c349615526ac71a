// Hostile HTTP clients (issue: robustness): slowloris, oversized headers, junk requests.
// Each case ends with the node still answering.

#include <chrono>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using namespace std::chrono_literals;

namespace {

int connect_to(const node_process& node) {
  auto& url = node.base_url();
  int port = std::stoi(url.substr(url.rfind(':') + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  return fd;
}

/// Reads what the server sends until it closes or `timeout` passes; returns the bytes and
/// whether the server closed.
std::pair<std::string, bool> read_until_closed(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    char buf[4096];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return {out, true};
    out.append(buf, static_cast<size_t>(n));
  }
  return {out, false};
}

std::string raw_request(const node_process& node, const std::string& bytes) {
  int fd = connect_to(node);
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  auto [reply, closed] = read_until_closed(fd, 3s);
  ::close(fd);
  return reply;
}

} // namespace

TEST_CASE("a slowloris client is cut off after the header timeout and the node stays responsive",
          "[integration][http][abuse]") {
  node_process node{{"--http.header-timeout-ms=1000"}};
  int fd = connect_to(node);
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // Trickle one byte every 100 ms: the request never completes within the timeout.
  for (int i = 0; i < 40 && !closed; ++i) {
    auto byte = request[std::min<size_t>(i, request.size() - 1)];
    if (::send(fd, &byte, 1, MSG_NOSIGNAL) < 0)
      closed = true;
    closed = closed || read_until_closed(fd, 100ms).second;
    // Meanwhile other clients are served.
    if (i == 5)
      CHECK(node.http("GET", "/healthz").status == 200);
  }
  auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  CHECK(closed);
  CHECK(took < 3s);
  CHECK(node.http("GET", "/healthz").status == 200);
}

TEST_CASE("oversized headers get 431 and junk requests get 400 without hurting the node",
          "[integration][http][abuse]") {
  node_process node;
  auto big = raw_request(
    node, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  CHECK(big.rfind("HTTP/1.1 431", 0) == 0);
  auto junk = raw_request(node, "\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n");
  CHECK((junk.empty() || junk.rfind("HTTP/1.1 400", 0) == 0));
  auto bad_line = raw_request(node, "GET\r\n\r\n");
  CHECK((bad_line.empty() || bad_line.rfind("HTTP/1.1 400", 0) == 0));
  auto body = raw_request(node, "POST /v1/dms HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                                  + std::string(1000, '{'));
  CHECK(body.rfind("HTTP/1.1 413", 0) == 0);
  // Path traversal and junk in REST URLs are answered, never served from disk.
  auto token = node_process::token("U1");
  auto traversal = node.http("GET", "/v1/channels/..%2F..%2Fetc%2Fpasswd/messages", "", token);
  CHECK(traversal.status == 400);
  auto web = node.http("GET", "/../../etc/passwd");
  CHECK(web.status == 404);
  auto junk_id = node.http("GET", "/v1/channels/C1%00/messages?limit=%ff", "", token);
  CHECK(junk_id.status == 400);
  CHECK(node.http("GET", "/healthz").status == 200);
}
