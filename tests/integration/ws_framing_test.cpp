// RFC 6455 framing against a real parleyd, from a raw TCP client that builds its frames by
// hand (docs/protocol.md "Connect and authenticate"): what a browser may send that the
// project's own client never does — fragments, pings between them, bad frames.

#include <chrono>
#include <optional>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "protocol/ws_codec.hpp"
#include "tests/integration/node_process.hpp"

using namespace parley::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// A raw TCP connection to the node, closed on destruction.
struct raw_socket {
  int fd = -1;
  std::string pending; // received, not yet parsed
  bool closed = false;  // the server closed the connection

  explicit raw_socket(const node_process& node) {
    auto& url = node.base_url();
    int port = std::stoi(url.substr(url.rfind(':') + 1));
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~raw_socket() { ::close(fd); }

  void send(const std::string& bytes) {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()));
  }

  /// Reads more bytes; false when the server closed or nothing came within `timeout`.
  bool receive(std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
      return false;
    char buf[8192];
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      closed = true;
      return false;
    }
    pending.append(buf, static_cast<size_t>(n));
    return true;
  }

  /// The HTTP response head of the upgrade.
  std::string response_head() {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (pending.find("\r\n\r\n") == std::string::npos
           && std::chrono::steady_clock::now() < deadline)
      receive(200ms);
    auto end = pending.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    auto head = pending.substr(0, end + 4);
    pending.erase(0, end + 4);
    return head;
  }

  /// The next server frame (unmasked, final), or nothing if none came within 5 s.
  std::optional<std::pair<int, std::string>> frame() {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pending.size() >= 2) {
        auto* p = reinterpret_cast<const unsigned char*>(pending.data());
        REQUIRE((p[1] & 0x80) == 0); // server frames are never masked
        size_t len = p[1] & 0x7F, header = 2;
        if (len == 126 && pending.size() >= 4) {
          len = (size_t(p[2]) << 8) | p[3];
          header = 4;
        }
        REQUIRE(len != 127); // nothing this test provokes is that large
        if (len != 126 && pending.size() >= header + len) {
          auto payload = pending.substr(header, len);
          int opcode = p[0] & 0x0F;
          pending.erase(0, header + len);
          return std::make_pair(opcode, payload);
        }
      }
      if (!receive(200ms) && closed)
        return std::nullopt;
    }
    return std::nullopt;
  }

  /// The next text frame's JSON, skipping nothing: REQUIREs a text frame.
  json text() {
    auto f = frame();
    REQUIRE(f);
    REQUIRE(f->first == 0x1);
    return json::parse(f->second);
  }
};

/// A masked client frame.
std::string client_frame(uint8_t opcode, const std::string& payload, bool fin = true,
                         bool masked = true) {
  std::string f;
  f += static_cast<char>((fin ? 0x80 : 0) | opcode);
  auto bit = static_cast<uint8_t>(masked ? 0x80 : 0);
  if (payload.size() < 126) {
    f += static_cast<char>(bit | payload.size());
  } else {
    f += static_cast<char>(bit | 126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  }
  const char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (masked)
    f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return f;
}

std::string upgrade_request(const std::string& user, const std::string& version = "13") {
  return "GET " + ws_target(node_process::token(user, "W1"), "W1")
         + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: "
         + version + "\r\n\r\n";
}

/// An upgraded raw connection for `user`, its hello answered.
void open_raw(raw_socket& s, const std::string& user) {
  s.send(upgrade_request(user));
  auto head = s.response_head();
  INFO(head);
  REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
  CHECK(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  s.send(client_frame(0x1, R"({"type":"hello"})"));
  CHECK(s.text()["type"] == "hello_ack");
}

/// The close frame's code, REQUIREing that the next frame is a close.
int close_code_of(raw_socket& s) {
  auto f = s.frame();
  REQUIRE(f);
  REQUIRE(f->first == 0x8);
  REQUIRE(f->second.size() >= 2);
  return (static_cast<unsigned char>(f->second[0]) << 8) | static_cast<unsigned char>(f->second[1]);
}

} // namespace

TEST_CASE("fragments with a ping between them are one message; the ping gets its pong",
          "[integration][ws][framing]") {
  node_process node;
  raw_socket s{node};
  open_raw(s, "U1");
  s.send(client_frame(0x1, R"({"type":"pi)", false) + client_frame(0x9, "are you there")
         + client_frame(0x0, R"(ng","ts":77})"));
  auto pong = s.frame();
  REQUIRE(pong);
  CHECK(pong->first == 0xA);
  CHECK(pong->second == "are you there");
  CHECK(s.text() == json{{"type", "pong"}, {"ts", 77}});
  // A close from the client is answered with the same code, then the server closes.
  s.send(client_frame(0x8, std::string("\x03\xe8", 2) + "bye"));
  CHECK(close_code_of(s) == 1000);
  CHECK_FALSE(s.receive(2s));
  CHECK(s.closed);
}

TEST_CASE("frames that break RFC 6455 close with 1002 or 1007", "[integration][ws][framing]") {
  node_process node;
  {
    raw_socket s{node};
    open_raw(s, "U1");
    s.send(client_frame(0x1, R"({"type":"ping"})", true, false)); // unmasked
    CHECK(close_code_of(s) == 1002);
    CHECK_FALSE(s.receive(2s));
    CHECK(s.closed);
  }
  {
    raw_socket s{node};
    open_raw(s, "U1");
    s.send(client_frame(0x1, "{\"type\":\"\xff\"}")); // not UTF-8
    CHECK(close_code_of(s) == 1007);
  }
  // The node is fine.
  CHECK(node.http("GET", "/healthz").status == 200);
}

TEST_CASE("an upgrade with another WebSocket version or no key is refused, never 101",
          "[integration][ws][framing]") {
  node_process node;
  {
    raw_socket s{node};
    s.send(upgrade_request("U1", "8"));
    auto head = s.response_head();
    CHECK(head.rfind("HTTP/1.1 426", 0) == 0);
    CHECK(head.find("Sec-WebSocket-Version: 13") != std::string::npos);
  }
  {
    raw_socket s{node};
    auto req = upgrade_request("U1");
    req.replace(req.find("dGhlIHNhbXBsZSBub25jZQ=="), 24, "short");
    s.send(req);
    CHECK(s.response_head().rfind("HTTP/1.1 400", 0) == 0);
  }
}
