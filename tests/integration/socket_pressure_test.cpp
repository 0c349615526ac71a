// Full kernel send buffers as node pressure (docs/architecture.md "Hybrid fan-out"), against a
// real parleyd: clients that stop reading, over real loopback sockets, while the node pushes to
// them. parley_sockets_backed_up counts them exactly (a reading client is not counted, a
// disconnect takes its count back), over ws:// and wss://, and above
// fanout.overload-backed-up-sockets large channels go to cursor mode while DMs keep push; a
// client that takes nothing for write-timeout-ms is reset.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <atomic>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Rate limits out of the way: this is about sockets, not senders.
const std::vector<std::string> no_rate_limits = {
  "--rate.user-per-s=100000", "--rate.user-burst=100000", "--rate.workspace-per-s=100000",
  "--rate.workspace-burst=100000"};

/// Polls until `pred` holds (true) or `timeout` passes (false).
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// One unlabelled series of the node's /metrics.
double scrape(const node_process& node, const std::string& name) {
  auto res = node.http("GET", "/metrics");
  REQUIRE(res.status == 200);
  std::istringstream in{res.body};
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(name + " ", 0) == 0)
      return std::stod(line.substr(name.size() + 1));
  FAIL("no series " << name);
  return -1;
}

double backed_up(const node_process& node) {
  return scrape(node, "parley_sockets_backed_up");
}

/// A masked client text frame (RFC 6455 section 5.3).
std::string masked_text(const std::string& payload) {
  std::string f;
  f += static_cast<char>(0x81);
  REQUIRE(payload.size() < 126);
  f += static_cast<char>(0x80 | payload.size());
  const char key[4] = {0x11, 0x22, 0x33, 0x44};
  f.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i)
    f += static_cast<char>(payload[i] ^ key[i % 4]);
  return f;
}

/// A client that upgrades, says hello and never reads again. Its receive buffer is 4 KiB, set
/// before connecting so the window it advertises stays small: what the node pushes piles up
/// in the node's kernel send buffer until it is full.
struct stalled_client {
  int fd = -1;

  stalled_client(const node_process& node, const std::string& user) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    int rcvbuf = 4096;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
    auto& url = node.base_url();
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    send("GET " + ws_target(node_process::token(user)) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    // RFC 6455 section 4.1: nothing more before the server's answer.
    auto head = read_until("\r\n\r\n");
    INFO(head.substr(0, head.find("\r\n")));
    REQUIRE(head.rfind("HTTP/1.1 101", 0) == 0);
    send(masked_text(R"({"type":"hello"})"));
    read_until("\"hello_ack\""); // from then on nothing is read
  }

  ~stalled_client() { disconnect(); }

  void send(const std::string& bytes) {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()));
  }

  /// Reads until `needle` arrived (5 s at most); returns what was read.
  std::string read_until(const std::string& needle) {
    std::string got;
    auto deadline = clock_type::now() + 5s;
    while (got.find(needle) == std::string::npos) {
      INFO("waiting for " << needle << ", got: " << got);
      REQUIRE(clock_type::now() < deadline);
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0)
        continue;
      char buf[4096];
      auto n = ::recv(fd, buf, sizeof buf, 0);
      REQUIRE(n > 0);
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  /// Reads and discards what the node sent until the connection ends; false if it still runs
  /// after `timeout`.
  bool ended_within(std::chrono::milliseconds timeout) {
    auto deadline = clock_type::now() + timeout;
    while (clock_type::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0)
        continue;
      char buf[65536];
      if (::recv(fd, buf, sizeof buf, 0) <= 0)
        return true; // EOF or reset
    }
    return false;
  }

  /// Drops the connection; with unread bytes in its buffer that is a reset.
  void disconnect() {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
};

/// Posts one message as `user` over REST (no WebSocket of its own to fill).
void post(const node_process& node, const std::string& channel, const std::string& token,
          const std::string& client_msg_id, const std::string& text) {
  auto res = node.http("POST", "/v1/channels/" + channel + "/messages",
                       json{{"text", text}, {"client_msg_id", client_msg_id}}.dump(), token);
  INFO("POST message " << client_msg_id << " -> " << res.status << " " << res.body);
  REQUIRE(res.status == 200);
}

/// Posts 4,000-byte messages (the longest text) to `channel` until the node counts `count`
/// backed-up sockets; returns how many it posted. A kernel send buffer holds ~3 MB here.
int fill_until_backed_up(const node_process& node, const std::string& channel,
                         const std::string& token, double count) {
  const std::string text(4000, 'x');
  auto deadline = clock_type::now() + 60s;
  int posted = 0;
  while (backed_up(node) < count) {
    INFO("posted " << posted << ", backed up " << backed_up(node));
    REQUIRE(clock_type::now() < deadline);
    REQUIRE(posted < 20000);
    for (int i = 0; i < 20; ++i, ++posted)
      post(node, channel, token, "fill-" + std::to_string(posted), text);
  }
  return posted;
}

/// A session that reads everything, all the time, on its own thread; `seen` is the highest seq
/// it got, pushed or announced by a cursor.
struct steady_reader {
  session s;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> seen{0};
  std::thread thread;

  steady_reader(const node_process& node, const std::string& user)
    : s(open_session(node, user)) {
    thread = std::thread([this] {
      while (!stop) {
        auto text = s.ws.read_text(100ms);
        if (!text)
          continue;
        auto f = json::parse(*text);
        auto type = f.value("type", "");
        auto seq = type == "message.new"      ? f.value("channel_seq", uint64_t{0})
                   : type == "channel.cursor" ? f.value("latest_seq", uint64_t{0})
                                              : 0;
        seen = std::max<uint64_t>(seen.load(), seq);
      }
    });
  }

  ~steady_reader() { halt(); }

  /// Stops the thread: the session is the test's to read from then.
  void halt() {
    stop = true;
    if (thread.joinable())
      thread.join();
  }
};

/// Posts 4,000-byte messages in batches of 20, each batch read by `reader` before the next (so
/// the reader is never the one behind), until `done()` holds; returns how many it posted.
template <class Done>
uint64_t fill_past_reader(const node_process& node, const std::string& channel,
                          const std::string& token, steady_reader& reader, Done done) {
  const std::string text(4000, 'x');
  auto deadline = clock_type::now() + 90s;
  uint64_t posted = 0;
  while (!done()) {
    INFO("posted " << posted);
    REQUIRE(clock_type::now() < deadline);
    for (int i = 0; i < 20; ++i, ++posted)
      post(node, channel, token, "fill-" + std::to_string(posted), text);
    REQUIRE(eventually([&] { return reader.seen.load() == posted; }, 30s));
  }
  return posted;
}

/// A throwaway self-signed certificate for 127.0.0.1 (openssl CLI), removed with the object.
struct temp_cert {
  std::string dir;
  temp_cert() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-pressure-XXXXXX";
    REQUIRE(mkdtemp(templ.data()));
    dir = templ;
    auto r = run_command("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
                         " -sha256 -nodes -days 2 -subj /CN=localhost"
                         " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + dir
                         + "/key.pem -out " + dir + "/cert.pem");
    INFO("openssl: " << r.out);
    REQUIRE(r.status == 0);
  }
  ~temp_cert() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

} // namespace

TEST_CASE("clients that stop reading count as backed-up sockets until they disconnect, readers "
          "never do", "[integration][overload][metrics]") {
  node_process node{no_rate_limits};
  auto channel = node.create_channel("W1", "fill", {"U1", "U2", "U3", "U4"});
  auto u1 = node_process::token("U1");
  CHECK(backed_up(node) == 0);

  // U4 reads everything, all the time, on its own thread: the highest seq it has seen, pushed
  // or announced by a cursor.
  steady_reader reader{node, "U4"};
  stalled_client u2{node, "U2"};
  stalled_client u3{node, "U3"};

  // Fill until both stalled sockets are full, looking only while the reader is caught up (a
  // reader can be full for a moment while its thread waits for a core).
  const std::string text(4000, 'x');
  auto deadline = clock_type::now() + 60s;
  uint64_t posted = 0;
  for (;;) {
    REQUIRE(clock_type::now() < deadline);
    for (int i = 0; i < 20; ++i, ++posted)
      post(node, channel, u1, "fill-" + std::to_string(posted), text);
    REQUIRE(eventually([&] { return reader.seen.load() == posted; }, 30s));
    if (backed_up(node) >= 2 && eventually([&] { return backed_up(node) == 2; }, 2s))
      break;
  }
  INFO("posted " << posted);
  reader.halt();
  CHECK(backed_up(node) == 2); // exactly the two stalled sockets

  // A disconnect fails the write in flight: its session leaves the count, the other stays.
  u2.disconnect();
  CHECK(eventually([&] { return backed_up(node) == 1; }));
  u3.disconnect();
  CHECK(eventually([&] { return backed_up(node) == 0; }));
  // Once both sessions are destroyed (the open count drops in their destructor) nothing can
  // move the count any more: it stays at 0, never below.
  CHECK(eventually([&] { return scrape(node, "parley_connections_open") == 1; }));
  CHECK(backed_up(node) == 0);
}

TEST_CASE("above fanout.overload-backed-up-sockets large channels go to cursor mode while DMs "
          "keep real-time push, until the sockets drain", "[integration][overload]") {
  // Channels above 3 members degrade under overload; more than 1 full socket is overload.
  auto args = no_rate_limits;
  args.insert(args.end(), {"--fanout.overload-backed-up-sockets=1",
                           "--fanout.overload-cursor-members=3"});
  node_process node{args};
  auto fill = node.create_channel("W1", "fill", {"U1", "U2", "U3"}); // small: always pushed
  auto big = node.create_channel("W1", "big", {"U1", "U4", "U5", "U6", "U7"});
  auto dm = node.create_channel("W1", "dm", {"U1", "U4"});
  auto u1 = node_process::token("U1");
  auto reader = open_session(node, "U4");
  auto is_new = [](const json& f, const std::string& ch) {
    return f.value("type", "") == "message.new" && f.value("channel_id", "") == ch;
  };

  post(node, big, u1, "b1", "before");
  expect_frame(reader.ws, "message.new", 5s, big);

  stalled_client u2{node, "U2"};
  stalled_client u3{node, "U3"};
  fill_until_backed_up(node, fill, u1, 2);
  auto cursor_mode = scrape(node, "parley_cursor_mode_messages_total");

  post(node, big, u1, "b2", "while backed up");
  post(node, dm, u1, "d1", "dm while backed up");
  bool cursor = false, dm_news = false;
  auto frames = reader.ws.read_until(
    [&](const json& f) {
      cursor |= f.value("type", "") == "channel.cursor" && f.value("channel_id", "") == big
                && f.value("latest_seq", 0) == 2;
      dm_news |= is_new(f, dm);
      return cursor && dm_news;
    },
    5s);
  for (auto& f : frames)
    CHECK_FALSE(is_new(f, big));
  CHECK(scrape(node, "parley_cursor_mode_messages_total") == cursor_mode + 1);

  u2.disconnect();
  u3.disconnect();
  CHECK(eventually([&] { return backed_up(node) == 0; }));
  post(node, big, u1, "b3", "drained");
  auto f = expect_frame(reader.ws, "message.new", 5s, big);
  CHECK(f.value("channel_seq", 0) == 3);
}

TEST_CASE("wss clients that stop reading count as backed-up sockets until they disconnect",
          "[integration][overload][tls]") {
  // The SSL engine hides short writes: a TLS session polls its socket for room instead.
  temp_cert cert;
  auto args = no_rate_limits;
  args.insert(args.end(), {"--tls.cert", cert.dir + "/cert.pem", "--tls.key",
                           cert.dir + "/key.pem"});
  node_process node{args};
  REQUIRE(node.base_url().rfind("https://", 0) == 0);
  auto channel = node.create_channel("W1", "fill", {"U1", "U2", "U3"});
  auto u1 = node_process::token("U1");
  // Neither reads after its hello_ack: each client reads only inside its own calls.
  auto u2 = open_session(node, "U2");
  auto u3 = open_session(node, "U3");
  CHECK(backed_up(node) == 0);

  fill_until_backed_up(node, channel, u1, 2);
  CHECK(eventually([&] { return backed_up(node) == 2; }));

  u2.ws.abort();
  CHECK(eventually([&] { return backed_up(node) == 1; }));
  u3.ws.abort();
  CHECK(eventually([&] { return backed_up(node) == 0; }));
  CHECK(eventually([&] { return scrape(node, "parley_connections_open") == 0; }));
  CHECK(backed_up(node) == 0);
}

// A client that stops reading (window 0, TCP open) would otherwise keep its session, its
// kernel send buffer and its backed-up count forever: even a close frame waits behind the stuck
// write. After write-timeout-ms the node resets the connection.
TEST_CASE("a client that stops reading is reset after write-timeout-ms while a reader keeps "
          "receiving", "[integration][overload][metrics]") {
  constexpr auto write_timeout = 2000ms;
  auto args = no_rate_limits;
  args.push_back("--write-timeout-ms=" + std::to_string(write_timeout.count()));
  node_process node{args};
  auto channel = node.create_channel("W1", "fill", {"U1", "U2", "U4"});
  auto u1 = node_process::token("U1");
  steady_reader reader{node, "U4"};
  stalled_client u2{node, "U2"};
  auto stalls = [&] { return scrape(node, "parley_write_stalls_total"); };
  CHECK(stalls() == 0);

  auto posted = fill_past_reader(node, channel, u1, reader,
                                 [&] { return backed_up(node) >= 1 || stalls() >= 1; });
  INFO("posted " << posted);
  auto full = clock_type::now();
  REQUIRE(eventually([&] { return stalls() >= 1; }, write_timeout + 5s));
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - full);
  INFO("reset " << waited.count() << " ms after the socket was seen full");
  CHECK(waited < write_timeout + 3s);
  CHECK(u2.ended_within(5s)); // reset: no close frame could get past the stuck bytes
  CHECK(eventually([&] { return backed_up(node) == 0; }));
  CHECK(eventually([&] { return scrape(node, "parley_connections_open") == 1; }));

  // The reader was never behind for long: it is still connected and still receives.
  post(node, channel, u1, "after", "after the reset");
  CHECK(eventually([&] { return reader.seen.load() == posted + 1; }));
  CHECK(stalls() == 1);
  CHECK(scrape(node, "parley_connections_open") == 1);
}

TEST_CASE("a wss client that stops reading is reset after write-timeout-ms while a reader keeps "
          "receiving", "[integration][overload][tls]") {
  // A TLS session cannot see short writes: its write gets the deadline once more is due.
  constexpr auto write_timeout = 2000ms;
  temp_cert cert;
  auto args = no_rate_limits;
  args.insert(args.end(), {"--tls.cert", cert.dir + "/cert.pem", "--tls.key",
                           cert.dir + "/key.pem",
                           "--write-timeout-ms=" + std::to_string(write_timeout.count())});
  node_process node{args};
  REQUIRE(node.base_url().rfind("https://", 0) == 0);
  auto channel = node.create_channel("W1", "fill", {"U1", "U2", "U4"});
  auto u1 = node_process::token("U1");
  steady_reader reader{node, "U4"};
  auto u2 = open_session(node, "U2"); // reads nothing after its hello_ack
  auto stalls = [&] { return scrape(node, "parley_write_stalls_total"); };

  auto posted = fill_past_reader(node, channel, u1, reader,
                                 [&] { return backed_up(node) >= 1 || stalls() >= 1; });
  INFO("posted " << posted);
  auto full = clock_type::now();
  REQUIRE(eventually([&] { return stalls() >= 1; }, write_timeout + 5s));
  CHECK(clock_type::now() - full < write_timeout + 3s);
  CHECK(u2.ws.wait_closed(10s));
  CHECK_FALSE(u2.ws.close_code()); // no close frame, no close_notify: a reset
  CHECK(eventually([&] { return backed_up(node) == 0; }));
  CHECK(eventually([&] { return scrape(node, "parley_connections_open") == 1; }));

  post(node, channel, u1, "after", "after the reset");
  CHECK(eventually([&] { return reader.seen.load() == posted + 1; }));
  CHECK(stalls() == 1);
}
