#ifdef PARLEY_HAVE_KAFKA

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <nlohmann/json.hpp>

#include "storage/kafka_event_export.hpp"
#include "tests/storage/sqlite_fixture.hpp"

using namespace parley;
using namespace parley::storage;
using namespace parley::storage::test;
using namespace std::chrono_literals;

namespace {

constexpr int partitions = 4;
constexpr int brokers = 3;

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 20s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

void silence(const rd_kafka_t*, int, const char*, const char*) {
}

/// librdkafka's in-process mock cluster (rdkafka_mock.h) with the export topics created.
class mock_kafka {
public:
  mock_kafka() {
    char err[256];
    auto* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, &silence);
    owner_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    REQUIRE(owner_);
    cluster_ = rd_kafka_mock_cluster_new(owner_, brokers);
    REQUIRE(cluster_);
    for (auto topic : {"parley.messages", "parley.presence"})
      REQUIRE(rd_kafka_mock_topic_create(cluster_, topic, partitions, brokers)
              == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

  ~mock_kafka() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(owner_);
  }

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

  void set_all(bool up) {
    for (int32_t id = 1; id <= brokers; ++id)
      if (up)
        rd_kafka_mock_broker_set_up(cluster_, id);
      else
        rd_kafka_mock_broker_set_down(cluster_, id);
  }

private:
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

struct record {
  std::string workspace, channel, key;
  uint64_t seq = 0;
  nlohmann::json value;
};

/// Reads a topic from the beginning of every partition until `unique` distinct
/// (workspace, channel, seq) records arrived or the time is up.
std::vector<record> consume(const std::string& brokers_list, const std::string& topic,
                            size_t unique, std::chrono::milliseconds limit = 20s) {
  char err[256];
  auto* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers_list.c_str(), err, sizeof(err));
  rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err));
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set_log_cb(conf, &silence);
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  REQUIRE(rk);
  auto* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<record> out;
  std::set<std::tuple<std::string, std::string, uint64_t>> seen;
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (seen.size() < unique && std::chrono::steady_clock::now() < deadline) {
    auto* msg = rd_kafka_consumer_poll(rk, 100);
    if (msg == nullptr)
      continue;
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      record r;
      r.key.assign(static_cast<const char*>(msg->key), msg->key_len);
      r.value = nlohmann::json::parse(static_cast<const char*>(msg->payload),
                                      static_cast<const char*>(msg->payload) + msg->len);
      if (r.value.contains("channel_seq")) {
        r.workspace = r.value["workspace_id"];
        r.channel = r.value["channel_id"];
        r.seq = r.value["channel_seq"];
      } else {
        r.workspace = r.value["workspace_id"];
        r.channel = r.value["user_id"]; // presence: keyed by user
        r.seq = out.size() + 1;
      }
      seen.emplace(r.workspace, r.channel, r.seq);
      out.push_back(std::move(r));
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

/// Checks the stream against the log: after dedup by (workspace, channel, seq) every
/// expected message appears exactly once, first appearances ascend per channel, and each
/// record is keyed by its channel id.
void verify(const std::vector<record>& records,
            const std::map<std::pair<std::string, std::string>, uint64_t>& latest) {
  std::map<std::pair<std::string, std::string>, std::set<uint64_t>> seen;
  std::map<std::pair<std::string, std::string>, uint64_t> highest;
  for (auto& r : records) {
    CHECK(r.key == r.channel);
    auto ch = std::make_pair(r.workspace, r.channel);
    if (!seen[ch].insert(r.seq).second)
      continue; // an at-least-once duplicate
    INFO(r.workspace << " " << r.channel << " seq " << r.seq);
    CHECK(r.seq > highest[ch]);
    highest[ch] = r.seq;
  }
  CHECK(seen.size() == latest.size());
  for (auto& [ch, last] : latest) {
    INFO(ch.first << " " << ch.second);
    REQUIRE(seen[ch].size() == last);
    CHECK(*seen[ch].begin() == 1);
    CHECK(*seen[ch].rbegin() == last);
  }
}

/// Channels of two workspaces, filled with `n` messages each starting after `from`.
struct log_fixture : sqlite_fixture {
  std::unique_ptr<soci_store> store = open();
  std::vector<std::pair<workspace_id, channel_id>> channels;
  std::map<std::pair<std::string, std::string>, uint64_t> latest;

  log_fixture() {
    for (uint64_t w : {1, 2, 1}) {
      auto c = store->create_channel(workspace_id{w}, "general", {user_id{7}});
      REQUIRE(c);
      channels.emplace_back(workspace_id{w}, *c);
    }
  }

  void append(uint64_t per_channel) {
    for (auto [w, c] : channels) {
      auto key = std::make_pair(w.str(), c.str());
      std::vector<chat_message> batch;
      for (uint64_t i = 0; i < per_channel; ++i) {
        auto seq = ++latest[key];
        batch.push_back(msg(w.value, c.value, seq, 7, "m" + c.str() + "-" + std::to_string(seq)));
      }
      REQUIRE(store->append(batch));
    }
  }

  uint64_t total() const {
    uint64_t n = 0;
    for (auto& [k, v] : latest)
      n += v;
    return n;
  }

  std::unique_ptr<kafka_event_export> start(const mock_kafka& kafka, uint32_t batch = 64) {
    kafka_export_config cfg;
    cfg.brokers = kafka.bootstraps();
    cfg.batch = batch;
    cfg.idle_poll = 20ms;
    auto exporter = kafka_event_export::start(cfg, open());
    REQUIRE(exporter);
    return std::move(*exporter);
  }

  void check_cursors() {
    auto cursors = store->cursors("parley.messages");
    REQUIRE(cursors);
    REQUIRE(cursors->size() == channels.size());
    for (auto& cur : *cursors)
      CHECK(cur.last_seq == latest[{cur.workspace.str(), cur.channel.str()}]);
  }
};

} // namespace

TEST_CASE("the export log reads unexported messages per channel and cursors only move forward",
          "[storage][kafka]") {
  log_fixture log;
  log.append(5);
  auto first = log.store->read_unexported("s", workspace_id{}, channel_id{}, 100);
  REQUIRE(first);
  CHECK(first->size() == 15);
  auto [w, c] = log.channels[0];
  REQUIRE_FALSE(log.store->advance_cursors("s", {{w, c, 4}}));
  REQUIRE_FALSE(log.store->advance_cursors("s", {{w, c, 2}})); // never back
  auto rest = log.store->read_unexported("s", workspace_id{}, channel_id{}, 100);
  REQUIRE(rest);
  CHECK(rest->size() == 11);
  CHECK(rest->front().channel == c);
  CHECK(rest->front().seq == 5);
  // Another stream has its own cursors.
  auto other = log.store->read_unexported("t", workspace_id{}, channel_id{}, 100);
  REQUIRE(other);
  CHECK(other->size() == 15);
  // Starting after a channel skips it (fairness between channels).
  auto after = log.store->read_unexported("s", w, c, 100);
  REQUIRE(after);
  CHECK(after->size() == 10);
  CHECK(export_json(log.store->read_after(w, c, 0, 1)->front())
        == R"({"channel_id":")" + c.str() + R"(","channel_seq":1,"client_msg_id":"m)" + c.str()
             + R"(-1","text":"text of )" + c.str() + R"(#1","ts":1700000000000001,)"
             + R"("user_id":"U7","workspace_id":"W1"})");
}

TEST_CASE("every message is exported once per (channel, seq) after dedup, in order per channel",
          "[storage][kafka]") {
  mock_kafka kafka;
  log_fixture log;
  log.append(100);
  auto exporter = log.start(kafka);
  REQUIRE(wait_until([&] { return exporter->exported() >= log.total(); }));
  exporter->presence({principal{workspace_id{1}, user_id{7}}, "node-a", presence_status::offline,
                      1'700'000'000'000'000});
  REQUIRE(wait_until([&] { return exporter->presence_exported() == 1; }));
  auto records = consume(kafka.bootstraps(), "parley.messages", log.total());
  verify(records, log.latest);
  log.check_cursors();
  auto presence = consume(kafka.bootstraps(), "parley.presence", 1);
  REQUIRE(presence.size() == 1);
  CHECK(presence[0].key == "W1:U7");
  CHECK(presence[0].value["status"] == "offline");
  CHECK(presence[0].value["node"] == "node-a");
  CHECK(presence[0].value["ts"] == 1'700'000'000'000'000);
}

TEST_CASE("a kafka outage delays the export without losing or reordering a message",
          "[storage][kafka]") {
  mock_kafka kafka;
  log_fixture log;
  log.append(20);
  auto exporter = log.start(kafka, 16);
  REQUIRE(wait_until([&] { return exporter->exported() >= log.total(); }));
  auto before = exporter->exported();
  kafka.set_all(false);
  // Delivery keeps going: appends to the durable log do not wait for Kafka.
  auto start = std::chrono::steady_clock::now();
  log.append(30);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  std::this_thread::sleep_for(1500ms);
  CHECK(exporter->exported() == before); // nothing acknowledged while every broker is down
  auto cursors = log.store->cursors("parley.messages");
  REQUIRE(cursors);
  for (auto& cur : *cursors)
    CHECK(cur.last_seq == 20);
  kafka.set_all(true);
  REQUIRE(wait_until([&] { return exporter->exported() >= log.total(); }, 60s));
  auto records = consume(kafka.bootstraps(), "parley.messages", log.total());
  verify(records, log.latest);
  log.check_cursors();
}

TEST_CASE("a restarted exporter resumes from the durable cursor", "[storage][kafka]") {
  mock_kafka kafka;
  log_fixture log;
  log.append(40);
  {
    auto exporter = log.start(kafka);
    REQUIRE(wait_until([&] { return exporter->exported() >= log.total(); }));
  }
  log.check_cursors();
  auto first_total = log.total();
  log.append(10);
  auto exporter = log.start(kafka);
  REQUIRE(wait_until([&] { return exporter->exported() >= log.total() - first_total; }));
  std::this_thread::sleep_for(200ms);
  CHECK(exporter->exported() == log.total() - first_total); // nothing exported twice
  auto records = consume(kafka.bootstraps(), "parley.messages", log.total());
  CHECK(records.size() == log.total());
  verify(records, log.latest);
  log.check_cursors();
}

#endif // PARLEY_HAVE_KAFKA
