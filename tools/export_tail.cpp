// parley-export-tail: reads the Kafka export stream (storage/event_export.hpp) from the
// beginning and verifies it: per channel, every seq first appears in ascending order.
// Re-deliveries (at-least-once) are counted as duplicates, not violations; seq gaps are
// allowed (docs/protocol.md "Rules": a seq assigned but never acked may be missing).
//
// usage: parley-export-tail --brokers B [--topic T] [--count N] [--idle-ms MS]
//                           [--property key=value ...] [--quiet]
// Exit status: 0 ok, 1 order violations or malformed records, 2 fewer than N unique
// messages before going idle, 64 bad usage.

#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <librdkafka/rdkafka.h>
#include <nlohmann/json.hpp>

namespace {

volatile std::sig_atomic_t interrupted = 0;

void on_signal(int) {
  interrupted = 1;
}

void silence(const rd_kafka_t*, int, const char*, const char*) {
}

int usage(const char* why) {
  std::cerr << "parley-export-tail: " << why
            << "\nusage: parley-export-tail --brokers B [--topic T] [--count N] [--idle-ms MS]"
               " [--property key=value ...] [--quiet]\n";
  return 64;
}

} // namespace

int main(int argc, char** argv) {
  std::string brokers, topic = "parley.messages";
  long long count = -1, idle_ms = 5000;
  bool quiet = false;
  std::vector<std::pair<std::string, std::string>> props;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    auto eq = a.find('=');
    if (a == "--quiet") {
      quiet = true;
      continue;
    }
    if (a.rfind("--", 0) != 0)
      return usage(("unexpected argument " + a).c_str());
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      return usage(("option " + a + " needs a value").c_str());
    }
    try {
      if (a == "--brokers")
        brokers = v;
      else if (a == "--topic")
        topic = v;
      else if (a == "--count")
        count = std::stoll(v);
      else if (a == "--idle-ms")
        idle_ms = std::stoll(v);
      else if (a == "--property" && v.find('=') != std::string::npos)
        props.emplace_back(v.substr(0, v.find('=')), v.substr(v.find('=') + 1));
      else
        return usage(("unknown option " + a).c_str());
    } catch (const std::exception&) {
      return usage(("bad value for " + a).c_str());
    }
  }
  if (brokers.empty())
    return usage("--brokers is required");
  char err[512];
  auto* conf = rd_kafka_conf_new();
  props.insert(props.begin(), {{"bootstrap.servers", brokers},
                               {"group.id", "parley-export-tail"},
                               {"enable.auto.commit", "false"},
                               {"enable.partition.eof", "true"}});
  for (auto& [k, v] : props)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      std::cerr << "parley-export-tail: " << k << ": " << err << "\n";
      return 64;
    }
  rd_kafka_conf_set_log_cb(conf, &silence);
  auto* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
  if (rk == nullptr) {
    std::cerr << "parley-export-tail: " << err << "\n";
    return 64;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Assign every partition from the beginning: no group join, no committed offsets.
  const rd_kafka_metadata_t* md = nullptr;
  auto* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  rd_kafka_resp_err_t merr = RD_KAFKA_RESP_ERR__TRANSPORT;
  for (int attempt = 0; attempt < 50 && !interrupted; ++attempt) {
    merr = rd_kafka_metadata(rk, 0, rkt, &md, 2000);
    if (merr == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1
        && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt > 0)
      break;
    if (merr == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);
    md = nullptr;
  }
  rd_kafka_topic_destroy(rkt);
  if (md == nullptr) {
    std::cerr << "parley-export-tail: no metadata for topic " << topic << ": "
              << rd_kafka_err2str(merr) << "\n";
    rd_kafka_destroy(rk);
    return 2;
  }
  int partitions = md->topics[0].partition_cnt;
  rd_kafka_metadata_destroy(md);
  auto* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);

  using channel_key = std::pair<std::string, std::string>; // (workspace, channel)
  std::map<channel_key, std::set<long long>> seen;
  std::map<channel_key, long long> highest;
  long long records = 0, unique = 0, duplicates = 0, violations = 0, malformed = 0;
  long long idle = 0;
  while (!interrupted && (count < 0 || unique < count) && idle < idle_ms) {
    auto* msg = rd_kafka_consumer_poll(rk, 100);
    if (msg == nullptr) {
      idle += 100;
      continue;
    }
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(msg);
      idle += 10;
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::cerr << "consumer error: " << rd_kafka_message_errstr(msg) << "\n";
      rd_kafka_message_destroy(msg);
      continue;
    }
    idle = 0;
    ++records;
    try {
      auto j = nlohmann::json::parse(static_cast<const char*>(msg->payload),
                                     static_cast<const char*>(msg->payload) + msg->len);
      channel_key key{j.at("workspace_id").get<std::string>(),
                      j.at("channel_id").get<std::string>()};
      auto seq = j.at("channel_seq").get<long long>();
      std::string rkey(static_cast<const char*>(msg->key), msg->key_len);
      if (rkey != key.second) {
        ++malformed;
        std::cout << "BAD KEY partition " << msg->partition << " offset " << msg->offset
                  << ": key " << rkey << " for channel " << key.second << "\n";
      }
      auto& s = seen[key];
      if (!s.insert(seq).second) {
        ++duplicates;
      } else {
        ++unique;
        auto& hi = highest[key];
        if (seq < hi) {
          ++violations;
          std::cout << "ORDER VIOLATION " << key.first << " " << key.second << ": seq " << seq
                    << " after " << hi << " (partition " << msg->partition << " offset "
                    << msg->offset << ")\n";
        } else {
          hi = seq;
        }
        if (!quiet)
          std::cout << key.first << " " << key.second << " " << seq << " "
                    << j.at("user_id").get<std::string>() << " " << j.at("text").dump() << "\n";
      }
    } catch (const std::exception& e) {
      ++malformed;
      std::cout << "MALFORMED partition " << msg->partition << " offset " << msg->offset << ": "
                << e.what() << "\n";
    }
    rd_kafka_message_destroy(msg);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::cout << "records " << records << " unique " << unique << " duplicates " << duplicates
            << " channels " << seen.size() << " violations " << violations << " malformed "
            << malformed << "\n";
  if (violations > 0 || malformed > 0)
    return 1;
  if (count >= 0 && unique < count)
    return 2;
  return 0;
}
