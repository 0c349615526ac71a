// parleyd on two storage shards (issue 7): each workspace's channels and messages land in its
// shard's database, and everything acked survives kill -9. Shard 0 is a SQLite file; shard 1
// runs on every backend under test (SQLite, and PostgreSQL / MariaDB when
// PARLEY_TEST_POSTGRES / PARLEY_TEST_MYSQL are set, see tests/storage/backend_fixture.hpp).

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "storage/shard_map.hpp"
#include "tests/integration/node_process.hpp"
#include "tests/storage/backend_fixture.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
namespace st = parley::storage;

namespace {

long long count(const std::string& connection, const std::string& sql) {
  auto n = st::query_integer(connection, sql);
  INFO(sql << " -> " << (n ? "" : caf::to_string(n.error())));
  REQUIRE(n);
  return *n;
}

/// Sends `n` messages as `user` over one session; returns client_msg_id -> ack.
std::map<std::string, json> send_all(const node_process& node, const std::string& user,
                                     const std::string& workspace, const std::string& channel,
                                     int n) {
  auto s = open_session(node, user, workspace);
  std::map<std::string, json> acks;
  for (int k = 0; k < n; ++k)
    s.ws.send_json(send_frame(channel, workspace + " says " + std::to_string(k),
                              workspace + "-m" + std::to_string(k)));
  for (int k = 0; k < n; ++k) {
    auto ack = expect_frame(s.ws, "message.ack", 10s);
    acks[ack.value("client_msg_id", "")] = ack;
  }
  return acks;
}

void check_history(const node_process& node, const std::string& channel,
                   const std::string& reader, const std::string& workspace,
                   const std::map<std::string, json>& acks) {
  auto history = node.history(channel, node_process::token(reader, workspace));
  std::map<std::string, json> stored;
  for (const auto& m : history)
    stored[m.value("client_msg_id", "")] = m;
  CHECK(history.size() == acks.size());
  for (const auto& [id, ack] : acks) {
    INFO("acked " << ack.dump());
    REQUIRE(stored.count(id) == 1);
    CHECK(stored[id]["channel_seq"] == ack["channel_seq"]);
    CHECK(stored[id]["ts"] == ack["ts"]);
  }
}

} // namespace

TEST_CASE("two workspaces on two storage shards stay apart and survive kill -9",
          "[integration][storage][shards]") {
  auto backend = GENERATE(st::test::each_backend());
  INFO("shard 1 backend: " << backend.name);
  st::test::test_database shard0{st::test::test_backend{"sqlite3", ""}};
  st::test::test_database shard1{backend};
  // Overrides make the placement explicit: W1 -> shard 0, W2 -> shard 1.
  node_process node({"--storage.shard.0=" + shard0.connection(),
                     "--storage.shard.1=" + shard1.connection(),
                     "--storage.shard-override.W1=0", "--storage.shard-override.W2=1"});

  auto c1 = node.create_channel("W1", "one", {"U1", "U2"});
  auto c2 = node.create_channel("W2", "two", {"U1", "U2"});
  // Channel ids name their shard in the high bits (storage/shard_map.hpp).
  CHECK(c1 == "C1");
  CHECK(c2 == "C" + std::to_string(st::shard_map::first_channel(1).value));

  auto acks1 = send_all(node, "U1", "W1", c1, 5);
  auto acks2 = send_all(node, "U1", "W2", c2, 5);
  REQUIRE(acks1.size() == 5);
  REQUIRE(acks2.size() == 5);
  // A REST send too, on the second shard.
  auto res = node.http("POST", "/v1/channels/" + c2 + "/messages",
                       json{{"text", "over rest"}, {"client_msg_id", "W2-rest"}}.dump(),
                       node_process::token("U2", "W2"));
  INFO(res.body);
  REQUIRE(res.status == 200);
  acks2["W2-rest"] = parse_body(res);
  CHECK(acks2["W2-rest"]["channel_seq"] == 6);

  // Users of one workspace cannot reach the other's channel even though U1 exists in both.
  auto cross = node.http("GET", "/v1/channels/" + c2 + "/messages", "",
                         node_process::token("U1", "W1"));
  CHECK(cross.status == 403);

  // Physically apart.
  CHECK(count(shard0.connection(), "SELECT COUNT(*) FROM messages WHERE workspace_id = 1") == 5);
  CHECK(count(shard0.connection(), "SELECT COUNT(*) FROM messages WHERE workspace_id = 2") == 0);
  CHECK(count(shard1.connection(), "SELECT COUNT(*) FROM messages WHERE workspace_id = 2") == 6);
  CHECK(count(shard1.connection(), "SELECT COUNT(*) FROM messages WHERE workspace_id = 1") == 0);
  CHECK(count(shard0.connection(), "SELECT COUNT(*) FROM channels") == 1);
  CHECK(count(shard1.connection(), "SELECT COUNT(*) FROM channels") == 1);

  node.kill9();
  node.restart();
  check_history(node, c1, "U2", "W1", acks1);
  check_history(node, c2, "U2", "W2", acks2);
  // Seqs continue on both shards after the crash, and a retry still gets its original ack.
  auto after = send_all(node, "U2", "W2", c2, 1);
  CHECK(after.begin()->second["channel_seq"] == 7);
  auto s = open_session(node, "U1", "W1");
  s.ws.send_json(send_frame(c1, "retry", "W1-m0"));
  auto retry = expect_frame(s.ws, "message.ack", 10s);
  CHECK(retry["channel_seq"] == acks1["W1-m0"]["channel_seq"]);
  CHECK(retry["ts"] == acks1["W1-m0"]["ts"]);
}
