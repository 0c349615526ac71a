// The inter-node delivery circuit over real BASP (docs/architecture.md "Backpressure", layer 3): a
// peer node frozen with SIGSTOP keeps its TCP connection but confirms nothing, like a stuck
// process. Busy is not dead: the owner keeps delivering until the peer has confirmed nothing
// for fanout.peer-dead-ms, then opens that peer's circuit, stops sending to it, and closes it
// again with a probe once the peer runs; the peer's clients catch up. The third node's client
// keeps getting every message meanwhile (its delivery latency is printed, not asserted: speed
// is for bench/).

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/cluster_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// A labelled sample `name{peer="<peer>"}` of a node's /metrics, -1 if absent.
double peer_metric(const node_process& node, const std::string& name, const std::string& peer) {
  auto res = node.http("GET", "/metrics");
  REQUIRE(res.status == 200);
  std::istringstream in{res.body};
  std::string line;
  auto prefix = name + "{peer=\"" + peer + "\"} ";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0)
      return std::stod(line.substr(prefix.size()));
  return -1;
}

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

json rest_send(const node_process& node, const std::string& channel, const std::string& user,
               const std::string& client_msg_id) {
  auto res = node.http("POST", "/v1/channels/" + channel + "/messages",
                       json{{"text", "circuit " + client_msg_id}, {"client_msg_id", client_msg_id}}
                         .dump(),
                       node_process::token(user));
  INFO("POST message " << client_msg_id << " -> " << res.status << " " << res.body);
  REQUIRE(res.status == 200);
  return json::parse(res.body);
}

/// Continues a SIGSTOPped process however the test ends.
struct frozen {
  pid_t pid;
  explicit frozen(pid_t p) : pid(p) { REQUIRE(::kill(pid, SIGSTOP) == 0); }
  void thaw() {
    if (pid > 0)
      ::kill(pid, SIGCONT);
    pid = -1;
  }
  ~frozen() { thaw(); }
};

} // namespace

TEST_CASE("a frozen peer node gets its circuit opened once it confirmed nothing for "
          "fanout.peer-dead-ms, no deliveries while open, and closed by a probe once it runs",
          "[integration][cluster][circuit]") {
  cluster_process cluster({"--rate.user-per-s=1000", "--rate.user-burst=1000",
                           "--fanout.circuit-probe-ms=2000", "--fanout.peer-dead-ms=1000"});
  auto channel = cluster.node(0).create_channel("W1", "circuit", {"U1", "U2", "U3", "U4"});
  std::vector<session> sessions;
  for (size_t i = 0; i < 3; ++i)
    sessions.push_back(open_session(cluster.node(i), "U" + std::to_string(i + 1)));

  // Warm-up: every node gets the message; the owner is the node that acked it.
  rest_send(cluster.node(0), channel, "U4", "warm");
  for (auto& s : sessions)
    expect_frame(s.ws, "message.new", 5s, channel);
  size_t owner = 3;
  for (size_t i = 0; i < 3; ++i)
    if (cluster.metric(i, "parley_messages_acked_total") == 1)
      owner = i;
  REQUIRE(owner < 3);
  size_t peer = (owner + 1) % 3, healthy = (owner + 2) % 3;
  auto peer_name = cluster_process::name(peer);
  auto& own = cluster.node(owner);
  auto circuit = [&] { return peer_metric(own, "parley_circuit_state", peer_name); };
  auto failures = [&] {
    return peer_metric(own, "parley_internode_peer_failures_total", peer_name);
  };
  auto skipped = [&] {
    return peer_metric(own, "parley_internode_deliveries_skipped_total", peer_name);
  };
  CHECK(circuit() == 0);
  CHECK(failures() == 0);

  // Freeze the peer and keep sending every 50 ms: the circuit opens once the peer has
  // confirmed nothing for 1 s; the healthy node's client gets every message meanwhile.
  uint64_t seq = 1;
  std::vector<double> healthy_ms;
  auto started = clock_type::now();
  frozen stop{cluster.node(peer).pid()};
  while (circuit() != 1 && clock_type::now() - started < 10s) {
    auto sent_at = clock_type::now();
    rest_send(own, channel, "U4", "m" + std::to_string(++seq));
    auto f = expect_frame(sessions[healthy].ws, "message.new", 5s, channel);
    CHECK(f.value("channel_seq", uint64_t{0}) == seq);
    healthy_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - sent_at)
                           .count());
    std::this_thread::sleep_for(50ms);
  }
  auto opened_after = std::chrono::duration<double, std::milli>(clock_type::now() - started);
  INFO("messages sent while frozen: " << seq - 1);
  REQUIRE(circuit() == 1);
  CHECK(failures() >= 1);
  CHECK(skipped() == 0); // nothing was skipped before the circuit opened
  CHECK(opened_after.count() >= 1000);
  CHECK(opened_after.count() < 4000); // 1 s without progress, plus the confirmation's start and polling

  // Open: sends are acked at once and nothing goes to the frozen peer.
  for (int k = 0; k < 3; ++k)
    rest_send(own, channel, "U4", "open" + std::to_string(k));
  seq += 3;
  CHECK(skipped() >= 3);

  // The peer runs again: the next probe (within 2 s) is confirmed and closes the circuit.
  stop.thaw();
  auto thawed = clock_type::now();
  CHECK(eventually([&] { return circuit() == 0; }, 10s));
  auto closed_after = std::chrono::duration<double, std::milli>(clock_type::now() - thawed);

  // Live deliveries resume. Every client got what was sent before the circuit opened, then a
  // channel.cursor (the probe) or the gap of the next message.new, and backfills.
  rest_send(own, channel, "U4", "after");
  ++seq;
  for (auto& s : sessions) {
    auto frames = s.ws.read_until(
      [&](const json& f) {
        return f.value("type", "") == "message.new" && f.value("channel_seq", uint64_t{0}) == seq;
      },
      5s);
    uint64_t last = 0;
    for (auto& f : frames)
      if (f.value("type", "") == "message.new" && f.value("channel_id", "") == channel
          && f.value("channel_seq", uint64_t{0}) == last + 1)
        last = f.value("channel_seq", uint64_t{0});
    s.ws.send_json({{"type", "backfill"}, {"channel_id", channel}, {"after_seq", last}});
    auto page = expect_frame(s.ws, "message.backfill", 5s, channel);
    uint64_t top = last;
    for (auto& m : page["messages"])
      top = std::max(top, m.value("channel_seq", uint64_t{0}));
    CHECK(top == seq); // nothing acked is missing for any client
  }
  auto history = own.history(channel, node_process::token("U4"));
  CHECK(history.size() == seq);
  std::sort(healthy_ms.begin(), healthy_ms.end());
  auto p99 = healthy_ms.empty() ? 0.0 : healthy_ms[(healthy_ms.size() * 99) / 100];
  std::cout << "circuit-test: peer " << peer_name << " frozen: circuit open after "
            << opened_after.count() << " ms (peer-dead 1000 ms), " << skipped()
            << " deliveries skipped, closed " << closed_after.count()
            << " ms after the peer resumed (probe every 2000 ms); the healthy node's client: "
            << healthy_ms.size() << " messages while frozen, send-to-delivery p99 " << p99
            << " ms" << std::endl;
}
