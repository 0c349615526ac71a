// Operator features against a real node: /metrics values after a scripted exchange, bounded
// label cardinality, /v1/admin/actors and `parley inspect --once` (docs/architecture.md
// "Operators").

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

/// Every sample of a scrape by its full series name (`name{labels}`).
std::map<std::string, double> scrape(const node_process& node) {
  auto res = node.http("GET", "/metrics");
  REQUIRE(res.status == 200);
  std::map<std::string, double> out;
  std::istringstream in{res.body};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.rfind(' ');
    REQUIRE(sp != std::string::npos);
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double value(const std::map<std::string, double>& m, const std::string& series) {
  auto i = m.find(series);
  INFO("series " << series);
  REQUIRE(i != m.end());
  return i->second;
}

/// Series of the family `name` (label sets), e.g. every hot channel.
size_t series_count(const std::map<std::string, double>& m, const std::string& name) {
  size_t n = 0;
  for (auto& [series, v] : m)
    if (series.rfind(name + "{", 0) == 0)
      ++n;
  return n;
}

/// Reads until `n` message.new frames of `channel` arrived.
void read_news(parley::client::ws_client& ws, const std::string& channel, size_t n) {
  size_t seen = 0;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (seen < n) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    auto text = ws.read_text(500ms);
    if (!text)
      continue;
    auto frame = json::parse(*text);
    if (frame.value("type", "") == "message.new" && frame.value("channel_id", "") == channel)
      ++seen;
  }
}

} // namespace

TEST_CASE("metrics move by exactly the scripted exchange", "[integration][metrics]") {
  node_process node;
  auto channel = node.create_channel("W1", "metrics", {"U1", "U2"});
  auto a = open_session(node, "U1");
  auto b = open_session(node, "U2");
  auto before = scrape(node);

  // 10 sends, 5 per user (the per-user burst), each seen by both members.
  for (int i = 0; i < 5; ++i) {
    a.ws.send_json(send_frame(channel, "from a " + std::to_string(i), "a" + std::to_string(i)));
    b.ws.send_json(send_frame(channel, "from b " + std::to_string(i), "b" + std::to_string(i)));
  }
  read_news(a.ws, channel, 10);
  read_news(b.ws, channel, 10);

  // The latency histogram observes after the write completes: allow it a moment.
  auto after = scrape(node);
  for (int i = 0; i < 20 && value(after, "parley_delivery_latency_seconds_count")
                                 < value(before, "parley_delivery_latency_seconds_count") + 20;
       ++i) {
    std::this_thread::sleep_for(100ms);
    after = scrape(node);
  }
  auto delta = [&](const std::string& series) {
    return value(after, series) - value(before, series);
  };
  CHECK(delta("parley_messages_acked_total") == 10);
  CHECK(delta("parley_frames_pushed_total") == 20);
  CHECK(delta("parley_delivery_latency_seconds_count") == 20); // 10 per recipient
  CHECK(delta("parley_delivery_latency_seconds_bucket{le=\"+Inf\"}") == 20);
  CHECK(delta("parley_group_commit_batch_size_count") >= 1);
  CHECK(delta("parley_group_commit_batch_size_sum") == 10);
  CHECK(delta("parley_group_commit_seconds_count")
        == delta("parley_group_commit_batch_size_count"));
  CHECK(delta("parley_actor_messages_processed_total{kind=\"channel\"}") >= 10);
  CHECK(delta("parley_actor_messages_processed_total{kind=\"group_commit\"}") >= 10);
  CHECK(delta("parley_actor_messages_processed_total{kind=\"connection\"}") >= 10);
  CHECK(delta("parley_actor_messages_processed_total{kind=\"gateway\"}") >= 10);
  CHECK(delta("parley_actor_handler_seconds_count{kind=\"channel\"}")
        == delta("parley_actor_messages_processed_total{kind=\"channel\"}"));
  CHECK(value(after, "parley_actors_live{kind=\"connection\"}") == 2);
  CHECK(value(after, "parley_actors_live{kind=\"channel\"}") == 1);
  CHECK(value(after, "parley_actors_live{kind=\"gateway\"}") == 1);
  CHECK(value(after, "parley_connections_open") == 2);
  CHECK(series_count(after, "parley_circuit_state") == 0); // one node: no peers, no circuits
  // The only channel is the hot one, with both members online.
  CHECK(value(after, "parley_hot_channel_messages_total{channel=\"" + channel + "\"}") == 10);
  CHECK(value(after, "parley_hot_channel_online_members{channel=\"" + channel + "\"}") == 2);
  CHECK(value(after, "parley_hot_channel_fanout_seconds_count{channel=\"" + channel + "\"}") == 10);
}

// Only the K hottest of 10,000 active channels get labelled series.
TEST_CASE("hot-channel label cardinality stays at K with 10,000 active channels",
          "[integration][metrics]") {
  constexpr int active = 10000;
  node_process node{{"--rate.workspace-per-s=100000", "--rate.workspace-burst=100000"}};
  auto u1 = node_process::token("U1");
  std::vector<std::string> channels;
  for (int i = 0; i < active; ++i)
    channels.push_back(node.create_channel("W1", "c" + std::to_string(i), {"U1"}));
  for (size_t i = 0; i < channels.size(); ++i) {
    json body{{"client_msg_id", "m" + std::to_string(i)}, {"text", "hi"}};
    // The first 20 channels get a second message: they are the hottest.
    for (int k = 0; k < (i < 20 ? 2 : 1); ++k) {
      body["client_msg_id"] = "m" + std::to_string(i) + "-" + std::to_string(k);
      auto res = node.http("POST", "/v1/channels/" + channels[i] + "/messages", body.dump(), u1);
      REQUIRE(res.status == 200);
    }
  }
  auto m = scrape(node);
  CHECK(value(m, "parley_actors_live{kind=\"channel\"}") == active);
  CHECK(series_count(m, "parley_hot_channel_msgs_per_second") == 10);
  CHECK(series_count(m, "parley_hot_channel_messages_total") == 10);
  CHECK(series_count(m, "parley_hot_channel_online_members") == 10);
  for (auto& [series, v] : m)
    if (series.rfind("parley_hot_channel_messages_total{", 0) == 0)
      CHECK(v == 2); // one of the 20 busiest
  // Every other family has a fixed set of series: the whole scrape stays small.
  CHECK(m.size() < 400);
}

TEST_CASE("/v1/admin/actors lists live actors for the admin only", "[integration][metrics]") {
  node_process node;
  auto channel = node.create_channel("W1", "actors", {"U1"});
  auto s = open_session(node, "U1");
  s.ws.send_json(send_frame(channel, "hello", "x1"));
  read_news(s.ws, channel, 1);

  CHECK(node.http("GET", "/v1/admin/actors").status == 401);
  CHECK(node.http("GET", "/v1/admin/actors", "", node_process::token("U1")).status == 401);

  auto res = node.http("GET", "/v1/admin/actors?kind=channel", "", test_admin_token);
  REQUIRE(res.status == 200);
  auto body = parse_body(res);
  REQUIRE(body["actors"].size() == 1);
  auto& row = body["actors"][0];
  CHECK(row["kind"] == "channel");
  CHECK(row["id"] == channel);
  CHECK(row["node"] == body["node"]);
  CHECK(row["processed"].get<uint64_t>() >= 1);
  CHECK(row["mailbox_depth"].get<uint64_t>() == 0);

  auto all = parse_body(node.http("GET", "/v1/admin/actors", "", test_admin_token));
  std::set<std::string> kinds;
  for (auto& r : all["actors"])
    kinds.insert(r["kind"].get<std::string>());
  CHECK(kinds.count("connection") == 1);
  CHECK(kinds.count("gateway") == 1);
  CHECK(kinds.count("presence") == 1);
  CHECK(kinds.count("group_commit") == 1);
  CHECK(kinds.count("storage_worker") == 1);

  // Paging: one row at a time, in actor-id order, with the total.
  auto total = all["total"].get<size_t>();
  auto p1 = parse_body(node.http("GET", "/v1/admin/actors?limit=1&offset=1", "", test_admin_token));
  CHECK(p1["total"].get<size_t>() == total);
  REQUIRE(p1["actors"].size() == 1);
  CHECK(p1["actors"][0]["actor_id"] == all["actors"][1]["actor_id"]);
  CHECK(node.http("GET", "/v1/admin/actors?kind=bogus", "", test_admin_token).status == 400);
  CHECK(node.http("GET", "/v1/admin/actors?limit=-1", "", test_admin_token).status == 400);
}

TEST_CASE("parley inspect --once prints a snapshot, or one line for a dead node",
          "[integration][metrics]") {
  node_process node;
  auto channel = node.create_channel("W1", "inspect", {"U1"});
  auto s = open_session(node, "U1");
  s.ws.send_json(send_frame(channel, "hello", "i1"));
  read_news(s.ws, channel, 1);

  auto snap = run_cli("PARLEY_ADMIN_TOKEN=" + test_admin_token,
                      "inspect --once --node " + node.base_url());
  INFO(snap.out);
  REQUIRE(snap.status == 0);
  CHECK(snap.out.find("NODES") != std::string::npos);
  CHECK(snap.out.find("BUSIEST CHANNELS") != std::string::npos);
  CHECK(snap.out.find("ACTORS") != std::string::npos);
  CHECK(snap.out.find("DEEPEST MAILBOXES") != std::string::npos);
  CHECK(snap.out.find(channel) != std::string::npos);
  CHECK(snap.out.find(" up ") != std::string::npos);

  auto js = run_cli("", "inspect --once --json --interval-ms 200 --node " + node.base_url());
  INFO(js.out);
  REQUIRE(js.status == 0);
  auto j = json::parse(js.out);
  REQUIRE(j["nodes"].size() == 1);
  CHECK(j["nodes"][0]["up"] == true);
  CHECK(j["nodes"][0]["connections"] == 1);

  auto dead = run_cli("", "inspect --once --node http://127.0.0.1:1");
  CHECK(dead.status != 0);
  CHECK(dead.out.rfind("parley: node http://127.0.0.1:1 is unreachable: ", 0) == 0);
  CHECK(dead.out.find('\n') == std::string::npos);
}

TEST_CASE("the Grafana dashboard reads only metrics a node exports, through PromQL functions",
          "[integration][metrics]") {
  std::ifstream file{PARLEY_SOURCE_DIR "/cluster-config/grafana-dashboard.json"};
  REQUIRE(file);
  auto dashboard = json::parse(file); // throws on a syntax error: the test fails
  std::vector<std::string> exprs;
  for (auto& panel : dashboard.at("panels"))
    for (auto& target : panel.value("targets", json::array()))
      exprs.push_back(target.at("expr").get<std::string>());
  REQUIRE(exprs.size() >= 10);

  // The families a fresh node exports (`# TYPE name kind`).
  node_process node;
  auto res = node.http("GET", "/metrics");
  REQUIRE(res.status == 200);
  std::set<std::string> exported;
  std::istringstream in{res.body};
  for (std::string line; std::getline(in, line);)
    if (line.rfind("# TYPE ", 0) == 0)
      exported.insert(line.substr(7, line.find(' ', 7) - 7));

  const std::set<std::string> functions{"rate", "irate", "increase", "sum", "max", "min", "avg",
                                        "count", "topk", "histogram_quantile", "by", "without"};
  const std::regex call{R"(([A-Za-z_][A-Za-z_0-9.]*)\s*\()"};
  const std::regex metric{R"(parley_[a-z_0-9]+)"};
  for (auto& expr : exprs) {
    INFO(expr);
    for (std::sregex_iterator i{expr.begin(), expr.end(), call}, end; i != end; ++i)
      CHECK(functions.count((*i)[1].str()) == 1);
    for (std::sregex_iterator i{expr.begin(), expr.end(), metric}, end; i != end; ++i) {
      auto name = std::regex_replace(i->str(), std::regex{"_(bucket|sum|count)$"}, "");
      INFO("metric " << name);
      CHECK(exported.count(name) == 1);
    }
  }
}
