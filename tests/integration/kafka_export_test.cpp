// The Kafka export end to end (issue 7): a real parleyd on two storage shards exports to
// librdkafka's mock cluster, which this test process runs on real loopback sockets, and
// `parley-export-tail` reads the stream back from the same brokers.
#ifdef PARLEY_HAVE_KAFKA

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "tests/integration/node_process.hpp"
#include "tests/storage/sqlite_fixture.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

void silence(const rd_kafka_t*, int, const char*, const char*) {
}

/// librdkafka's mock cluster (rdkafka_mock.h) with the export topics; its brokers listen on
/// 127.0.0.1, so other processes reach them through `bootstraps()`.
class mock_brokers {
public:
  explicit mock_brokers(int partitions) {
    char err[256];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, &silence);
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    REQUIRE(owner_);
    cluster_ = rd_kafka_mock_cluster_new(owner_, 1);
    REQUIRE(cluster_);
    for (auto topic : {"parley.messages", "parley.presence"})
      REQUIRE(rd_kafka_mock_topic_create(cluster_, topic, partitions, 1)
              == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  ~mock_brokers() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(owner_);
  }

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

cli_result run_export_tail(const std::string& args) {
  return run_command(std::string(PARLEY_EXPORT_TAIL_PATH) + " " + args);
}

} // namespace

TEST_CASE("parley-export-tail reads every acked message of every shard exactly once, in order",
          "[integration][kafka][shards]") {
  mock_brokers kafka{4};
  parley::storage::test::temp_dir dir;
  node_process node({"--storage.shard.0=sqlite3://db=" + dir.path() + "/s0.db",
                     "--storage.shard.1=sqlite3://db=" + dir.path() + "/s1.db",
                     "--storage.shard-override.W1=0", "--storage.shard-override.W2=1",
                     "--kafka.brokers=" + kafka.bootstraps()});
  // Two channels per workspace, so the export interleaves channels and shards.
  std::map<std::string, std::string> workspace_of;
  for (auto ws : {"W1", "W2"})
    for (auto name : {"a", "b"})
      workspace_of[node.create_channel(ws, name, {"U1", "U2"})] = ws;
  REQUIRE(workspace_of.size() == 4);

  // (channel, seq) of every ack.
  std::set<std::pair<std::string, uint64_t>> acked;
  for (auto& [channel, ws] : workspace_of) {
    for (auto user : {"U1", "U2"}) {
      auto s = open_session(node, user, ws);
      for (int k = 0; k < 5; ++k)
        s.ws.send_json(send_frame(channel, std::string(user) + " " + std::to_string(k),
                                  channel + "-" + user + "-" + std::to_string(k)));
      for (int k = 0; k < 5; ++k) {
        auto ack = expect_frame(s.ws, "message.ack", 10s);
        acked.emplace(ack.value("channel_id", ""), ack.value("channel_seq", uint64_t{0}));
      }
    }
  }
  REQUIRE(acked.size() == 40);

  // --count stops as soon as every message arrived; --idle-ms bounds a stalled export.
  auto tail = run_export_tail("--brokers " + kafka.bootstraps() + " --count 40 --idle-ms 20000");
  INFO(tail.out);
  INFO(node.log_tail());
  REQUIRE(tail.status == 0);
  // One line per unique record: "W1 C1 3 U2 \"text\"", then the summary line.
  std::map<std::string, std::vector<uint64_t>> per_channel;
  std::set<std::pair<std::string, uint64_t>> reported;
  std::istringstream lines{tail.out};
  std::string line;
  bool summary = false;
  while (std::getline(lines, line)) {
    std::istringstream words{line};
    std::string first, channel;
    words >> first;
    if (first == "records") {
      summary = true;
      // No re-delivery either: nothing failed, so the at-least-once export sent each once.
      CHECK_THAT(line, Catch::Contains("records 40 unique 40 duplicates 0")
                         && Catch::Contains("violations 0")
                         && Catch::Contains("malformed 0") && Catch::Contains("channels 4"));
      continue;
    }
    uint64_t seq = 0;
    words >> channel >> seq;
    INFO(line);
    REQUIRE(workspace_of.count(channel) == 1);
    CHECK(workspace_of[channel] == first);
    CHECK(reported.emplace(channel, seq).second); // exactly once
    per_channel[channel].push_back(seq);
  }
  CHECK(summary);
  CHECK(reported == acked);
  for (auto& [channel, seqs] : per_channel) {
    INFO(channel);
    CHECK(std::is_sorted(seqs.begin(), seqs.end())); // in order per channel
    CHECK(seqs.size() == 10);
  }
}

#endif // PARLEY_HAVE_KAFKA
