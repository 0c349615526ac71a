// Crash safety (docs/protocol.md "Durability"): under a steady load the node is killed with SIGKILL
// at random moments, 20 times in one run; after every restart each acked message is stored
// exactly once with its acked seq, no seq is reused and the order per channel holds.

#include <chrono>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr int crash_cycles = 20;

/// Sends as fast as acks come back (8 in flight) until `deadline`, recording every ack.
void load_until(parley::client::ws_client& ws, const std::string& channel, int cycle,
                std::chrono::steady_clock::time_point deadline,
                std::map<std::string, uint64_t>& acked, int& sent) {
  int in_flight = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    while (in_flight < 8) {
      auto id = "crash-" + std::to_string(cycle) + "-" + std::to_string(sent++);
      ws.send_json(send_frame(channel, "load " + id, id));
      ++in_flight;
    }
    auto text = ws.read_text(20ms);
    if (!text)
      continue;
    auto frame = json::parse(*text);
    if (frame.value("type", "") == "message.ack") {
      acked[frame.value("client_msg_id", "")] = frame.value("channel_seq", uint64_t{0});
      --in_flight;
    } else if (frame.value("type", "") == "error") {
      --in_flight; // refused sends carry no ack and are not expected in storage
    }
  }
}

} // namespace

TEST_CASE("acked messages survive 20 kill -9 at random moments under load",
          "[integration][durability][crash]") {
  node_process node{{"--rate.user-per-s=100000", "--rate.user-burst=100000"}};
  auto channel = node.create_channel("W1", "crashes", {"U1", "U2"});
  std::mt19937 rng{20261129};
  std::uniform_int_distribution<int> run_ms{50, 400};
  std::map<std::string, uint64_t> acked;
  int sent = 0;
  for (int cycle = 0; cycle < crash_cycles; ++cycle) {
    {
      auto s = open_session(node, "U1");
      load_until(s.ws, channel, cycle,
                 std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms(rng)), acked,
                 sent);
      node.kill9(); // sends are in flight at this moment
      s.ws.abort();
    }
    node.restart();
    // After every restart: every ack so far is stored once with its seq; seqs never repeat.
    auto history = node.history(channel, node_process::token("U2"));
    std::map<std::string, uint64_t> stored;
    std::set<uint64_t> seqs;
    uint64_t previous = 0;
    for (const auto& m : history) {
      auto seq = m.value("channel_seq", uint64_t{0});
      REQUIRE(seq > previous);
      previous = seq;
      REQUIRE(seqs.insert(seq).second);
      REQUIRE(stored.emplace(m.value("client_msg_id", ""), seq).second);
    }
    for (const auto& [id, seq] : acked) {
      INFO("cycle " << cycle << ": acked " << id << " seq " << seq);
      REQUIRE(stored.count(id) == 1);
      REQUIRE(stored[id] == seq);
    }
    if (cycle + 1 == crash_cycles) {
      uint64_t gaps = previous - seqs.size();
      WARN("crash cycles: " << crash_cycles << ", sends: " << sent << ", acked: " << acked.size()
                            << ", stored: " << history.size() << ", empty seq gaps: " << gaps
                            << ", acked messages lost: 0");
    }
  }
  CHECK(acked.size() > 100);
}
