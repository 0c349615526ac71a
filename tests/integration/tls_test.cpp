// https:// and wss:// on the listener and TLS between nodes (issue 6), against real parleyd
// processes and a throwaway self-signed certificate made with the openssl CLI per test.

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "tests/integration/cluster_process.hpp"
#include "tools/client/tls.hpp"
#include "tools/client/url.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace pc = parley::client;

namespace {

/// Runs a shell command; returns its exit status and output (stdout and stderr).
std::pair<int, std::string> shell(const std::string& cmd) {
  std::string out;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  REQUIRE(pipe);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0)
    out.append(buf, n);
  int status = pclose(pipe);
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// A self-signed certificate for CN=localhost and `names` (subjectAltName) in a temp dir,
/// removed with the object.
struct test_cert {
  std::string dir;
  std::string cert;
  std::string key;

  explicit test_cert(const std::string& names = "DNS:localhost,IP:127.0.0.1") {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-tls-XXXXXX";
    std::vector<char> buf(templ.begin(), templ.end());
    buf.push_back('\0');
    REQUIRE(mkdtemp(buf.data()));
    dir = buf.data();
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    auto [status, out] = shell(
      "openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days 2 -subj /CN=localhost"
      " -addext subjectAltName=" + names + " -keyout " + key + " -out " + cert);
    INFO("openssl: " << out);
    REQUIRE(status == 0);
  }
  ~test_cert() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

std::vector<std::string> tls_args(const test_cert& c) {
  return {"--tls.cert", c.cert, "--tls.key", c.key};
}

std::string port_of(const std::string& url) {
  return url.substr(url.rfind(':') + 1);
}

/// How many descriptors process `pid` has open.
size_t open_fds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

/// Runs parleyd with `args` (expected to fail at startup); returns its status and output.
std::pair<int, std::string> parleyd_fails(const std::string& args) {
  char templ[] = "/tmp/parley-tls-data-XXXXXX";
  REQUIRE(mkdtemp(templ));
  auto result = shell(std::string("timeout 20 ") + PARLEYD_PATH + " --data-dir " + templ
                      + " --http-port 0 " + args);
  std::error_code ignored;
  std::filesystem::remove_all(templ, ignored);
  return result;
}

namespace net = boost::asio;
namespace ssl = net::ssl;

/// A client TLS context that trusts `cert` and verifies the peer.
ssl::context trusting(const test_cert& cert) {
  ssl::context ctx{ssl::context::tls_client};
  ctx.load_verify_file(cert.cert);
  ctx.set_verify_mode(ssl::verify_peer);
  return ctx;
}

/// A TLS connection to the node with the handshake done, for byte-level tests (a raw socket
/// for the TLS port).
struct raw_tls {
  net::io_context ioc;
  ssl::context ctx;
  ssl::stream<net::ip::tcp::socket> stream;

  raw_tls(const node_process& node, const test_cert& cert)
      : ctx(trusting(cert)), stream(ioc, ctx) {
    net::ip::tcp::endpoint ep{net::ip::make_address("127.0.0.1"),
                              static_cast<uint16_t>(std::stoi(port_of(node.base_url())))};
    stream.next_layer().connect(ep);
    stream.handshake(ssl::stream_base::client);
  }
};

/// Writes `bytes` to the node over TLS (trusting `cert`) and returns all it answers until it
/// closes (5 s at most).
std::string tls_exchange(const node_process& node, const test_cert& cert,
                         const std::string& bytes) {
  raw_tls conn(node, cert);
  auto& stream = conn.stream;
  std::string reply;
  std::array<char, 4096> buf;
  std::function<void()> read_more = [&] {
    stream.async_read_some(net::buffer(buf), [&](boost::system::error_code ec, size_t n) {
      reply.append(buf.data(), n);
      if (!ec)
        read_more();
    });
  };
  net::async_write(stream, net::buffer(bytes), [](boost::system::error_code, size_t) {});
  read_more();
  conn.ioc.run_for(5s);
  return reply;
}

} // namespace

TEST_CASE("node URLs take the http, https, ws and wss schemes", "[tls][client]") {
  auto https = pc::parse_base_url("https://example.com");
  CHECK(https.tls);
  CHECK(https.port == "443");
  auto wss = pc::parse_base_url("wss://127.0.0.1:9443/");
  CHECK(wss.tls);
  CHECK(wss.host_header() == "127.0.0.1:9443");
  CHECK_FALSE(pc::parse_base_url("http://h").tls);
  CHECK(pc::parse_base_url("http://h").port == "80");
  CHECK_FALSE(pc::parse_base_url("ws://h:1").tls);
  CHECK_THROWS_AS(pc::parse_base_url("ftp://h:1"), std::invalid_argument);
  CHECK_THROWS_AS(pc::parse_base_url("h:1"), std::invalid_argument);
  CHECK_THROWS_WITH(pc::make_client_context({"/nonexistent/ca.pem"}),
                    Catch::Contains("cannot read CA file '/nonexistent/ca.pem'"));
}

TEST_CASE("a TLS node serves wss: hello, send, ack and delivery with the test cert trusted",
          "[integration][tls]") {
  test_cert cert;
  node_process node(tls_args(cert));
  REQUIRE(node.base_url().rfind("https://127.0.0.1:", 0) == 0);
  auto channel = node.create_channel("W1", "tls", {"U1", "U2"});

  // Both URL schemes reach the TLS listener: wss:// explicitly, https:// via open_session.
  pc::ws_client ws1{node.tls()};
  auto wss_url = "wss://127.0.0.1:" + port_of(node.base_url());
  auto up = ws1.connect(wss_url, ws_target(node_process::token("U1")));
  INFO("upgrade -> " << up.status << " " << up.body);
  REQUIRE(up.status == 101);
  ws1.send_json({{"type", "hello"}, {"last_seq_map", json::object()}});
  REQUIRE(expect_frame(ws1, "hello_ack").value("user_id", "") == "U1");
  auto s2 = open_session(node, "U2");

  ws1.send_json(send_frame(channel, "over tls", "t-1"));
  auto ack = expect_frame(ws1, "message.ack");
  CHECK(ack.value("client_msg_id", "") == "t-1");
  CHECK(ack.value("channel_seq", uint64_t{0}) == 1);
  auto got = expect_frame(s2.ws, "message.new", 5s, channel);
  CHECK(got.value("text", "") == "over tls");
  CHECK(got.value("user_id", "") == "U1");
  ws1.close();
  CHECK(ws1.closed());
}

TEST_CASE("a TLS node answers REST over https: /healthz and an authenticated call",
          "[integration][tls]") {
  test_cert cert;
  node_process node(tls_args(cert));
  auto health = node.http("GET", "/healthz");
  REQUIRE(health.status == 200);
  auto channel = node.create_channel("W1", "rest-tls", {"U1"});
  auto sent = node.http("POST", "/v1/channels/" + channel + "/messages",
                        json{{"text", "hi"}, {"client_msg_id", "r-1"}}.dump(),
                        node_process::token("U1"));
  INFO(sent.body);
  REQUIRE(sent.status == 200);
  CHECK(parse_body(sent).value("channel_seq", uint64_t{0}) == 1);
  auto history = node.history(channel, node_process::token("U1"));
  REQUIRE(history.size() == 1);
  CHECK(history[0].value("text", "") == "hi");
  // The bearer check still applies over TLS.
  CHECK(node.http("GET", "/v1/channels/" + channel + "/messages").status == 401);
}

TEST_CASE("header and body limits and the connection cap hold over TLS", "[integration][tls]") {
  test_cert cert;
  auto args = tls_args(cert);
  args.insert(args.end(), {"--max-connections", "1"});
  node_process node(args);
  auto big = tls_exchange(node, cert, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                                         + std::string(9000, 'a') + "\r\n\r\n");
  CHECK(big.rfind("HTTP/1.1 431", 0) == 0);
  auto body = tls_exchange(node, cert, "POST /v1/dms HTTP/1.1\r\nHost: x\r\n"
                                       "Content-Length: 100000\r\n\r\n" + std::string(1000, '{'));
  CHECK(body.rfind("HTTP/1.1 413", 0) == 0);
  auto first = open_socket(node, "U1");
  pc::ws_client second{node.tls()};
  CHECK(second.connect(node.base_url(), ws_target(node_process::token("U2"))).status == 429);
  CHECK(first.is_open());
}

TEST_CASE("plain HTTP on the TLS port gets a 400, leaks nothing, and the node keeps serving",
          "[integration][tls]") {
  test_cert cert;
  node_process node(tls_args(cert));
  auto plain = "http://127.0.0.1:" + port_of(node.base_url());
  REQUIRE(node.http("GET", "/healthz").status == 200);
  auto before = open_fds(node.pid());

  auto res = pc::http_request(plain, "GET", "/healthz", "", "", 5s);
  CHECK(res.status == 400);
  CHECK(res.body.find("TLS only") != std::string::npos);
  pc::ws_client ws;
  auto up = ws.connect(plain, ws_target(node_process::token("U1")));
  CHECK(up.status == 400);
  for (int i = 0; i < 30; ++i) {
    try {
      pc::http_request(plain, "POST", "/v1/channels", "{}", test_admin_token, 5s);
    } catch (const pc::transport_error&) {
      // A reset instead of the 400 is a clean refusal too; what counts is what follows.
    }
  }

  REQUIRE(node.running());
  CHECK(node.http("GET", "/healthz").status == 200);
  // Every refused connection was closed: no descriptor stays behind.
  auto deadline = clock_type::now() + 5s;
  while (open_fds(node.pid()) > before + 2 && clock_type::now() < deadline)
    std::this_thread::sleep_for(50ms);
  CHECK(open_fds(node.pid()) <= before + 2);
}

TEST_CASE("a TCP connection that never sends a ClientHello is closed after the header timeout",
          "[integration][tls]") {
  test_cert cert;
  auto args = tls_args(cert);
  args.insert(args.end(), {"--http.header-timeout-ms", "500"});
  node_process node(args);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(port_of(node.base_url()))));
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{10, 0}; // the test's own bound: far above the node's 500 ms
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto start = clock_type::now();
  char byte;
  auto n = ::recv(fd, &byte, 1, 0);
  auto took = clock_type::now() - start;
  int err = errno;
  ::close(fd);
  INFO("recv returned " << n << " (" << std::strerror(err) << ") after "
                        << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                        << " ms");
  CHECK((n == 0 || (n < 0 && err == ECONNRESET)));
  CHECK(took >= 400ms);
  CHECK(took < 5s);
  CHECK(node.http("GET", "/healthz").status == 200);
}

TEST_CASE("a TLS client that never finishes its request is closed after the header timeout",
          "[integration][tls]") {
  test_cert cert;
  auto args = tls_args(cert);
  args.insert(args.end(), {"--http.header-timeout-ms", "500"});
  node_process node(args);
  raw_tls conn(node, cert); // the handshake completes: the node is up and TLS works
  auto& stream = conn.stream;
  // Half a request, then silence (slowloris over TLS).
  net::write(stream, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n")));
  auto start = clock_type::now();
  char buf[64];
  boost::system::error_code result;
  bool done = false;
  stream.async_read_some(net::buffer(buf), [&](boost::system::error_code ec, size_t) {
    result = ec;
    done = true;
  });
  conn.ioc.run_for(10s);
  auto took = clock_type::now() - start;
  REQUIRE(done);
  INFO("read ended with: " << result.message());
  CHECK(result); // closed, with or without close_notify
  CHECK(took >= 300ms);
  CHECK(took < 5s);
}

TEST_CASE("a client that does not trust the node's certificate fails with a clear error",
          "[integration][tls]") {
  test_cert cert;
  node_process node(tls_args(cert));
  // Default trust is the system CAs, which do not include the self-signed test certificate.
  try {
    pc::http_request(node.base_url(), "GET", "/healthz", "", "", 5s);
    FAIL("an untrusted certificate was accepted");
  } catch (const pc::transport_error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("certificate verify failed") != std::string::npos);
    CHECK(std::string(e.what()).find("self-signed") != std::string::npos);
  }
  pc::ws_client ws;
  try {
    ws.connect(node.base_url(), ws_target(node_process::token("U1")));
    FAIL("an untrusted certificate was accepted");
  } catch (const pc::transport_error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("certificate verify failed") != std::string::npos);
  }
  // The host name counts too: "localhost" is in the certificate.
  auto by_name = "https://localhost:" + port_of(node.base_url());
  CHECK(pc::http_request(by_name, "GET", "/healthz", "", "", 5s, node.tls()).status == 200);
}

TEST_CASE("a trusted certificate for other names fails the host check",
          "[integration][tls]") {
  test_cert elsewhere("DNS:elsewhere.example");
  node_process node(tls_args(elsewhere));
  try {
    pc::http_request(node.base_url(), "GET", "/healthz", "", "", 5s, node.tls());
    FAIL("a certificate for another host was accepted");
  } catch (const pc::transport_error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("IP address mismatch") != std::string::npos);
  }
  auto by_name = "https://localhost:" + port_of(node.base_url());
  try {
    pc::http_request(by_name, "GET", "/healthz", "", "", 5s, node.tls());
    FAIL("a certificate for another host was accepted");
  } catch (const pc::transport_error& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("hostname mismatch") != std::string::npos);
  }
}

TEST_CASE("the parley CLI talks https with --cacert and names the problem without it",
          "[integration][tls][cli]") {
  test_cert cert;
  node_process node(tls_args(cert));
  auto channel = node.create_channel("W1", "cli-tls", {"U1"});
  auto send = "send --node " + node.base_url() + " --token " + node_process::token("U1")
              + " --channel " + channel + " --text hello";
  auto refused = run_cli("", send);
  INFO(refused.out);
  CHECK(refused.status == 1);
  CHECK(refused.out.find("certificate verify failed") != std::string::npos);
  CHECK(refused.out.find("--cacert") != std::string::npos);
  CHECK(refused.out.find('\n') == std::string::npos);
  auto ok = run_cli("", send + " --cacert " + cert.cert);
  INFO(ok.out);
  CHECK(ok.status == 0);
  CHECK(ok.out.rfind(channel + " seq 1 ts ", 0) == 0);
  auto tail = run_cli("", "tail --node " + node.base_url() + " --cacert " + cert.cert
                            + " --token " + node_process::token("U1")
                            + " --workspace W1 --channel " + channel + " --count 1");
  INFO(tail.out);
  CHECK(tail.status == 0);
  CHECK(tail.out == "[1] U1: hello");
}

TEST_CASE("a missing or wrong certificate or key is a one-line startup error",
          "[integration][tls]") {
  test_cert cert;
  test_cert other;
  auto missing = parleyd_fails("--tls.cert " + cert.dir + "/nope.pem --tls.key " + cert.key);
  CHECK(missing.first == 1);
  CHECK(missing.second == "parleyd: cannot read --tls.cert " + cert.dir
                            + "/nope.pem: No such file or directory");
  auto not_pem = parleyd_fails("--tls.cert " + cert.key + " --tls.key " + cert.key);
  INFO(not_pem.second);
  CHECK(not_pem.first == 1);
  CHECK(not_pem.second.rfind("parleyd: --tls.cert " + cert.key + " is not a PEM certificate", 0)
        == 0);
  CHECK(not_pem.second.find('\n') == std::string::npos);
  auto mismatch = parleyd_fails("--tls.cert " + cert.cert + " --tls.key " + other.key);
  CHECK(mismatch.first == 1);
  CHECK(mismatch.second == "parleyd: --tls.key " + other.key
                             + " does not match the certificate " + cert.cert);
  auto half = parleyd_fails("--tls.cert " + cert.cert);
  CHECK(half.first == 1);
  CHECK(half.second == "parleyd: --tls.cert and --tls.key must be given together");
  auto ports = free_ports(1);
  auto cluster = parleyd_fails("--node n1 --node.n1 127.0.0.1:" + std::to_string(ports[0])
                               + ":0 --cluster.tls-cert " + cert.cert + " --cluster.tls-key "
                               + cert.key + " --cluster.tls-cafile " + cert.dir + "/none.pem");
  CHECK(cluster.first == 1);
  CHECK(cluster.second == "parleyd: cannot read --cluster.tls-cafile " + cert.dir
                              + "/none.pem: No such file or directory");
}

TEST_CASE("a 2-node cluster over TLS delivers a message sent on one node to the other",
          "[integration][tls][cluster]") {
  test_cert cert;
  cluster_process cluster({"--cluster.tls-cert", cert.cert, "--cluster.tls-key", cert.key,
                           "--cluster.tls-cafile", cert.cert},
                          2);
  auto channel = cluster.node(0).create_channel("W1", "tls-cluster", {"U1", "U2"});
  auto s1 = open_session(cluster.node(0), "U1");
  auto s2 = open_session(cluster.node(1), "U2");
  s1.ws.send_json(send_frame(channel, "across nodes over tls", "c-1"));
  auto ack = expect_frame(s1.ws, "message.ack", 10s);
  CHECK(ack.value("channel_seq", uint64_t{0}) == 1);
  auto got = expect_frame(s2.ws, "message.new", 10s, channel);
  CHECK(got.value("text", "") == "across nodes over tls");

  // The BASP port speaks TLS and demands our certificate: a TLS client presenting it
  // verifies, one without it is refused.
  std::ifstream in{cluster.config_file()};
  std::string line, basp;
  std::smatch m;
  static const std::regex n1(R"(node\.n1 = 127\.0\.0\.1:(\d+):\d+)");
  while (std::getline(in, line))
    if (std::regex_search(line, m, n1))
      basp = m[1].str();
  REQUIRE(!basp.empty());
  // (TLS 1.3 refuses a missing client certificate after the client's side of the handshake,
  // hence the second of input.)
  auto s_client = "(sleep 1) | timeout 10 openssl s_client -connect 127.0.0.1:" + basp
                  + " -CAfile " + cert.cert + " -verify_return_error -brief";
  auto with_cert = shell(s_client + " -cert " + cert.cert + " -key " + cert.key);
  CHECK(with_cert.second.find("Verification: OK") != std::string::npos);
  CHECK(with_cert.second.find("certificate required") == std::string::npos);
  auto without = shell(s_client);
  INFO(without.second);
  CHECK(without.second.find("certificate required") != std::string::npos);
  // Only n1 dials over TLS: a restart of either side must bring the link back.
  for (size_t restarted : {size_t{1}, size_t{0}}) {
    INFO("after a kill -9 and restart of " << cluster_process::name(restarted));
    auto marks = cluster.marks();
    cluster.kill9(restarted);
    cluster.require_live({1 - restarted}, {1 - restarted}, marks);
    marks = cluster.marks();
    cluster.restart(restarted);
    cluster.require_live({0, 1}, {0, 1}, marks);
    auto a = open_session(cluster.node(restarted), "U1");
    auto b = open_session(cluster.node(1 - restarted), "U2");
    auto id = "r-" + std::to_string(restarted);
    a.ws.send_json(send_frame(channel, "after restart", id));
    CHECK(expect_frame(a.ws, "message.ack", 10s).value("client_msg_id", "") == id);
    CHECK(expect_frame(b.ws, "message.new", 10s, channel).value("client_msg_id", "") == id);
  }
}
