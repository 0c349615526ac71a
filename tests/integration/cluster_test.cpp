// Three real parleyd processes on loopback sharing a real PostgreSQL (issue 3, docs/architecture.md
// "Cluster", "Send path"; docs/protocol.md "Rules": ordering, durability): one order across nodes,
// one delivery per node, kill -9 of a node under load, and a node that comes back.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <iomanip>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/cluster_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// Per-user limits out of the way: these tests measure ordering and failover, not limits.
const std::vector<std::string> cluster_args = {
  "--rate.user-per-s=1000", "--rate.user-burst=1000", "--rate.workspace-per-s=100000",
  "--rate.workspace-burst=100000"};

double ms_since(clock_type::time_point from, clock_type::time_point to = clock_type::now()) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

/// Reads every frame that arrives within `quiet` of the previous one (presence noise etc.).
void drain(parley::client::ws_client& ws, std::chrono::milliseconds quiet = 50ms) {
  while (ws.read_text(quiet)) {
  }
}

/// Reads frames until `n` message.new of `channel` arrived (counting from now); returns their
/// (seq, client_msg_id) in arrival order.
std::vector<std::pair<uint64_t, std::string>>
read_news(parley::client::ws_client& ws, const std::string& channel, size_t n,
          std::chrono::milliseconds timeout = 10s) {
  std::vector<std::pair<uint64_t, std::string>> out;
  auto deadline = clock_type::now() + timeout;
  while (out.size() < n && clock_type::now() < deadline) {
    auto text = ws.read_text(50ms);
    if (!text) {
      if (ws.closed())
        break;
      continue;
    }
    auto f = json::parse(*text);
    if (f.value("type", "") == "message.new" && f.value("channel_id", "") == channel)
      out.emplace_back(f.value("channel_seq", uint64_t{0}), f.value("client_msg_id", ""));
  }
  return out;
}

/// Every node's counters of interest, until two scrapes 250 ms apart agree (the counters of
/// control traffic such as presence updates have settled).
std::vector<std::map<std::string, double>> settled_metrics(cluster_process& cluster) {
  auto scrape = [&] {
    std::vector<std::map<std::string, double>> all;
    for (size_t i = 0; i < cluster.size(); ++i)
      all.push_back(cluster.metrics(i));
    return all;
  };
  auto prev = scrape();
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(250ms);
    auto next = scrape();
    if (next == prev)
      return next;
    prev = std::move(next);
  }
  return prev;
}

uint64_t delta(const std::vector<std::map<std::string, double>>& before,
               const std::vector<std::map<std::string, double>>& after, size_t node,
               const std::string& name) {
  auto a = after[node].count(name) ? after[node].at(name) : 0.0;
  auto b = before[node].count(name) ? before[node].at(name) : 0.0;
  return static_cast<uint64_t>(a - b);
}

/// POSTs one message through `node` as `user`; REQUIREs 200 and returns the ack.
json rest_send(const node_process& node, const std::string& channel, const std::string& user,
               const std::string& client_msg_id) {
  auto res = node.http("POST", "/v1/channels/" + channel + "/messages",
                       json{{"text", "via rest " + client_msg_id}, {"client_msg_id", client_msg_id}}
                         .dump(),
                       node_process::token(user));
  INFO("POST message " << client_msg_id << " -> " << res.status << " " << res.body);
  REQUIRE(res.status == 200);
  return parse_body(res);
}

} // namespace

TEST_CASE("clients on every node of a 3-node cluster see one order in a shared channel",
          "[integration][cluster]") {
  cluster_process cluster(cluster_args);
  auto users = user_range(1, 6); // two clients per node
  auto channel = cluster.node(0).create_channel("W1", "one-order", users);
  std::vector<session> sessions;
  for (size_t j = 0; j < users.size(); ++j)
    sessions.push_back(open_session(cluster.node(j / 2), users[j]));

  constexpr int per_client = 20;
  const size_t total = per_client * users.size();
  struct client_log {
    std::vector<std::pair<uint64_t, std::string>> news;
    std::map<std::string, uint64_t> acks;
    std::string failure;
  };
  std::vector<client_log> logs(users.size());
  std::atomic<size_t> ready{0};
  std::vector<std::thread> threads;
  for (size_t j = 0; j < users.size(); ++j) {
    threads.emplace_back([&, j] {
      auto& ws = sessions[j].ws;
      auto& log = logs[j];
      ++ready;
      while (ready < users.size())
        std::this_thread::yield();
      auto deadline = clock_type::now() + 30s;
      int sent = 0;
      try {
        while ((log.acks.size() < per_client || log.news.size() < total) &&
               clock_type::now() < deadline) {
          // One send, then whatever arrived: the senders of all nodes interleave.
          if (sent < per_client) {
            auto id = "a-" + users[j] + "-" + std::to_string(sent++);
            ws.send_json(send_frame(channel, "from " + users[j], id));
          }
          auto text = ws.read_text(sent < per_client ? 2ms : 100ms);
          if (!text) {
            if (ws.closed())
              throw std::runtime_error("connection closed: " + ws.failure());
            continue;
          }
          auto f = json::parse(*text);
          auto type = f.value("type", "");
          if (type == "message.ack")
            log.acks[f.value("client_msg_id", "")] = f.value("channel_seq", uint64_t{0});
          else if (type == "message.new" && f.value("channel_id", "") == channel)
            log.news.emplace_back(f.value("channel_seq", uint64_t{0}),
                                  f.value("client_msg_id", ""));
          else if (type == "error")
            throw std::runtime_error("error frame " + f.dump());
        }
        if (log.acks.size() < per_client || log.news.size() < total)
          log.failure = "timed out with " + std::to_string(log.acks.size()) + " acks and " +
                        std::to_string(log.news.size()) + " message.new";
      } catch (const std::exception& e) {
        log.failure = e.what();
      }
    });
  }
  for (auto& t : threads)
    t.join();

  const auto& reference = logs[0].news;
  for (size_t j = 0; j < users.size(); ++j) {
    INFO("client " << users[j] << " on " << cluster_process::name(j / 2));
    REQUIRE(logs[j].failure.empty());
    // Contiguous seqs 1..120 in order, and the same (seq → message) at every client.
    REQUIRE(logs[j].news.size() == total);
    for (size_t k = 0; k < total; ++k) {
      INFO("message.new #" << k);
      CHECK(logs[j].news[k].first == k + 1);
    }
    CHECK(logs[j].news == reference);
    // Every sender got its acks, and each ack names the seq everyone saw its message at.
    REQUIRE(logs[j].acks.size() == per_client);
    for (auto& [id, seq] : logs[j].acks) {
      INFO("ack " << id << " seq " << seq);
      REQUIRE(seq >= 1);
      REQUIRE(seq <= total);
      CHECK(reference[seq - 1].second == id);
    }
  }
  // The stored history is that same order.
  auto history = cluster.node(1).history(channel, node_process::token(users[0]));
  REQUIRE(history.size() == total);
  for (size_t k = 0; k < total; ++k) {
    CHECK(history[k].value("channel_seq", uint64_t{0}) == k + 1);
    CHECK(history[k].value("client_msg_id", "") == reference[k].second);
  }
}

TEST_CASE("a channel sends one delivery per message to each node with online members",
          "[integration][cluster]") {
  cluster_process cluster(cluster_args);
  auto users = user_range(1, 6);
  auto sender = "U7"; // a member who sends over REST and is never online
  auto members = users;
  members.push_back(sender);
  auto channel = cluster.node(0).create_channel("W1", "per-node", members);
  std::vector<std::unique_ptr<session>> sessions(users.size());
  auto node_of = [](size_t j) { return j / 2; };
  for (size_t j = 0; j < users.size(); ++j)
    sessions[j] = std::make_unique<session>(open_session(cluster.node(node_of(j)), users[j]));
  for (auto& s : sessions)
    drain(s->ws);

  constexpr size_t n = 30;
  int batch = 0;
  // Sends n messages through the nodes in turn and waits until every online session got
  // them all; returns the settled counters before and after.
  auto run = [&](std::vector<std::map<std::string, double>>& before,
                 std::vector<std::map<std::string, double>>& after) {
    before = settled_metrics(cluster);
    ++batch;
    for (size_t k = 0; k < n; ++k)
      rest_send(cluster.node(k % cluster.size()), channel, sender,
                "b" + std::to_string(batch) + "-" + std::to_string(k));
    for (size_t j = 0; j < users.size(); ++j) {
      if (!sessions[j])
        continue;
      auto got = read_news(sessions[j]->ws, channel, n);
      INFO("session " << users[j] << " on " << cluster_process::name(node_of(j)));
      REQUIRE(got.size() == n);
    }
    after = settled_metrics(cluster);
  };
  auto report = [&](const char* phase, const std::vector<std::map<std::string, double>>& before,
                    const std::vector<std::map<std::string, double>>& after) {
    std::ostringstream out;
    out << phase << ": " << n << " messages;";
    for (size_t i = 0; i < cluster.size(); ++i)
      out << " " << cluster_process::name(i)
          << " acked=" << delta(before, after, i, "parley_messages_acked_total")
          << " gateway=" << delta(before, after, i, "parley_gateway_deliveries_total")
          << " internode=" << delta(before, after, i, "parley_internode_deliveries_total");
    std::cout << "cluster-test: " << out.str() << std::endl;
    return out.str();
  };
  auto sum_gateway = [&](const auto& before, const auto& after) {
    uint64_t sum = 0;
    for (size_t i = 0; i < cluster.size(); ++i)
      sum += delta(before, after, i, "parley_gateway_deliveries_total");
    return sum;
  };

  // 1. Online members on all three nodes.
  std::vector<std::map<std::string, double>> before, after;
  run(before, after);
  INFO(report("members online on 3 nodes", before, after));
  size_t owner = cluster.size();
  for (size_t i = 0; i < cluster.size(); ++i)
    if (delta(before, after, i, "parley_messages_acked_total") == n)
      owner = i;
  REQUIRE(owner < cluster.size());
  for (size_t i = 0; i < cluster.size(); ++i) {
    CHECK(delta(before, after, i, "parley_messages_acked_total") == (i == owner ? n : 0));
    CHECK(delta(before, after, i, "parley_gateway_deliveries_total") == n);
    CHECK(delta(before, after, i, "parley_internode_deliveries_total") == (i == owner ? 2 * n : 0));
  }
  CHECK(sum_gateway(before, after) == 3 * n);
  auto per_message_3 =
    static_cast<double>(delta(before, after, owner, "parley_internode_deliveries_total")) / n;

  // Closes the sessions on `node`; waits until the others saw those users go offline, so the
  // channel has dropped that node's gateway.
  auto go_offline = [&](size_t node) {
    std::set<std::string> leaving;
    for (size_t j = 0; j < users.size(); ++j)
      if (sessions[j] && node_of(j) == node) {
        leaving.insert(users[j]);
        sessions[j]->ws.close();
        sessions[j].reset();
      }
    for (size_t j = 0; j < users.size(); ++j) {
      if (!sessions[j])
        continue;
      auto pending = leaving;
      auto deadline = clock_type::now() + 10s;
      while (!pending.empty() && clock_type::now() < deadline) {
        auto f = expect_frame(sessions[j]->ws, "presence.update", 10s, channel);
        if (f.value("status", "") == "offline")
          pending.erase(f.value("user_id", ""));
      }
      INFO(users[j] << " waits for the offline updates of the closed sessions");
      REQUIRE(pending.empty());
    }
  };
  auto go_online = [&](size_t node) {
    for (size_t j = 0; j < users.size(); ++j)
      if (!sessions[j] && node_of(j) == node)
        sessions[j] = std::make_unique<session>(open_session(cluster.node(node), users[j]));
    for (auto& s : sessions)
      if (s)
        drain(s->ws, 200ms);
  };

  // 2. Online members on two nodes, the owner one of them.
  size_t other = (owner + 1) % cluster.size();
  go_offline(other);
  run(before, after);
  INFO(report("members online on 2 nodes incl. the owner", before, after));
  CHECK(sum_gateway(before, after) == 2 * n);
  CHECK(delta(before, after, other, "parley_gateway_deliveries_total") == 0);
  CHECK(delta(before, after, owner, "parley_internode_deliveries_total") == n);

  // 3. Online members on the two nodes that do not own the channel.
  go_online(other);
  go_offline(owner);
  run(before, after);
  INFO(report("members online on the 2 non-owner nodes", before, after));
  CHECK(sum_gateway(before, after) == 2 * n);
  CHECK(delta(before, after, owner, "parley_gateway_deliveries_total") == 0);
  CHECK(delta(before, after, owner, "parley_internode_deliveries_total") == 2 * n);

  std::cout << "cluster-test: inter-node deliveries per message with members online on 3 nodes: "
            << per_message_3 << " (owner " << cluster_process::name(owner) << ")" << std::endl;
}

namespace {

/// One client of the kill -9 test: sends with unique client_msg_ids (`window` in flight),
/// retries `unavailable`, timeouts and disconnects with the SAME id, reconnects to another
/// node with hello.last_seq_map, and keeps its view of every channel (live + backfilled).
struct load_client {
  struct ack_event {
    clock_type::time_point at;   // ack received
    clock_type::time_point sent; // the transmission it answers (the last one of its id)
    std::string channel;
    uint64_t seq = 0;
  };
  struct in_flight {
    std::string channel;
    clock_type::time_point sent;
  };

  std::string user;
  std::string token;
  size_t home = 0;
  std::vector<std::string> channels;
  std::vector<std::string>* urls = nullptr;
  std::atomic<int>* dead = nullptr;        // index of the killed node, -1 before
  std::atomic<bool>* stop = nullptr;       // no new messages after this
  std::atomic<size_t>* finished = nullptr; // clients whose every send was acked
  size_t clients = 0;
  size_t window = 4;

  // Results.
  std::map<std::string, std::vector<uint64_t>> acks; // client_msg_id → every ack's seq
  std::map<std::string, std::string> ack_channel;
  std::vector<ack_event> ack_events;
  std::map<std::string, std::map<uint64_t, std::string>> view; // channel → seq → id
  size_t live_frames = 0, backfilled = 0, late_filled = 0;
  size_t reconnects = 0, unavailable = 0, rate_limited = 0, timeouts = 0, resent = 0;
  size_t cursors = 0;
  std::vector<std::string> conflicts;
  std::vector<std::string> late_log; // channel:seq only found by the final catch-up
  std::vector<std::pair<std::string, clock_type::time_point>> timeout_log; // unanswered 5 s
  std::string failure;
  std::string last_error;

  parley::client::ws_client ws;
  std::map<std::string, in_flight> flight;
  std::deque<std::pair<clock_type::time_point, std::string>> retry; // (due, id)
  std::map<std::string, clock_type::time_point> last_sent;
  uint64_t next = 0;

  void note(const std::string& channel, uint64_t seq, const std::string& id) {
    auto [it, fresh] = view[channel].emplace(seq, id);
    if (!fresh && it->second != id)
      conflicts.push_back(channel + " seq " + std::to_string(seq) + ": " + it->second + " then " +
                          id);
  }

  void transmit(const std::string& id) {
    auto& f = flight[id];
    f.sent = clock_type::now();
    last_sent[id] = f.sent;
    ws.send_json(send_frame(f.channel, "load " + id, id));
  }

  /// Connects to `home` (or the next node that answers) and says hello with the view's seqs.
  void connect() {
    for (size_t attempt = 0; attempt < 60; ++attempt) {
      size_t node = (home + attempt) % urls->size();
      if (static_cast<int>(node) == dead->load())
        continue;
      try {
        parley::client::ws_client fresh;
        auto up = fresh.connect((*urls)[node], ws_target(token), {}, 3s);
        if (up.status != 101)
          throw std::runtime_error("upgrade " + std::to_string(up.status));
        json map = json::object();
        for (auto& ch : channels)
          map[ch] = view[ch].empty() ? 0 : view[ch].rbegin()->first;
        fresh.send_json({{"type", "hello"}, {"last_seq_map", map}});
        ws = std::move(fresh);
        home = node;
        // hello_ack (and the backfill pages behind it) are handled by handle().
        return;
      } catch (const std::exception&) {
        std::this_thread::sleep_for(50ms);
      }
    }
    throw std::runtime_error("no node accepted a reconnect");
  }

  void handle(const json& f) {
    auto type = f.value("type", "");
    if (type == "message.ack") {
      auto id = f.value("client_msg_id", "");
      auto seq = f.value("channel_seq", uint64_t{0});
      acks[id].push_back(seq);
      ack_channel[id] = f.value("channel_id", "");
      ack_events.push_back({clock_type::now(), last_sent[id], f.value("channel_id", ""), seq});
      flight.erase(id);
    } else if (type == "message.new") {
      ++live_frames;
      note(f.value("channel_id", ""), f.value("channel_seq", uint64_t{0}),
           f.value("client_msg_id", ""));
    } else if (type == "message.backfill") {
      auto ch = f.value("channel_id", "");
      for (auto& m : f["messages"]) {
        ++backfilled;
        note(ch, m.value("channel_seq", uint64_t{0}), m.value("client_msg_id", ""));
      }
      if (f.value("has_more", false) && !f["messages"].empty())
        ws.send_json({{"type", "backfill"},
                      {"channel_id", ch},
                      {"after_seq", f["messages"].back().value("channel_seq", uint64_t{0})},
                      {"limit", 100}});
    } else if (type == "channel.cursor") {
      ++cursors;
    } else if (type == "error") {
      auto code = f.value("code", "");
      std::string id = f["ref_id"].is_string() ? f["ref_id"].get<std::string>() : "";
      last_error = f.dump();
      if (code == "unavailable" || code == "rate_limited") {
        ++(code == "unavailable" ? unavailable : rate_limited);
        auto it = flight.find(id);
        // A late answer to an earlier transmission of an id sent again since is ignored.
        if (it != flight.end() && it->second.sent != clock_type::time_point::max()) {
          retry.emplace_back(clock_type::now() + 50ms, id);
          it->second.sent = clock_type::time_point::max(); // waiting in `retry`
        }
      } else {
        throw std::runtime_error("unexpected error frame " + f.dump());
      }
    }
  }

  void reconnect() {
    ++reconnects;
    // Everything in flight is sent again with the same id once connected.
    for (auto& [id, fl] : flight)
      if (fl.sent != clock_type::time_point::max()) {
        retry.emplace_back(clock_type::now(), id);
        fl.sent = clock_type::time_point::max();
      }
    home = (home + 1) % urls->size();
    connect();
  }

  void run() {
    try {
      connect();
      auto deadline = clock_type::now() + 40s;
      while (clock_type::now() < deadline) {
        if (stop->load() && flight.empty())
          break;
        try {
          auto now = clock_type::now();
          while (!retry.empty() && retry.front().first <= now) {
            auto id = retry.front().second;
            retry.pop_front();
            if (flight.count(id) == 0)
              continue; // another transmission of it was acked meanwhile
            ++resent;
            transmit(id);
          }
          while (!stop->load() && flight.size() < window) {
            auto id = "k-" + user + "-" + std::to_string(next);
            flight[id].channel = channels[next % channels.size()];
            ++next;
            transmit(id);
          }
          for (auto& [id, fl] : flight)
            if (fl.sent != clock_type::time_point::max() && now - fl.sent > 5s) {
              ++timeouts;
              timeout_log.emplace_back(fl.channel, fl.sent);
              transmit(id);
            }
          auto text = ws.read_text(5ms);
          if (text) {
            handle(json::parse(*text));
          } else if (ws.closed()) {
            reconnect();
          }
        } catch (const parley::client::transport_error&) {
          reconnect();
        }
      }
      if (!flight.empty()) {
        std::map<std::string, size_t> by_channel;
        for (auto& [id, fl] : flight)
          ++by_channel[fl.channel];
        std::string where;
        for (auto& [ch, k] : by_channel)
          where += " " + ch + ":" + std::to_string(k);
        throw std::runtime_error(std::to_string(flight.size()) + " sends never acked within 40 s"
                                 " (by channel:" + where + "; last error: " + last_error + ")");
      }
      // Keep reading the live stream until every client's last send was acked, so the
      // catch-up below sees the final history.
      ++*finished;
      auto barrier_deadline = clock_type::now() + 30s;
      auto last_ping = clock_type::now();
      while (finished->load() < clients) {
        if (clock_type::now() > barrier_deadline)
          throw std::runtime_error("other clients never finished sending");
        if (clock_type::now() - last_ping > 10s) {
          // Like any client: a silent connection is closed after 30 s (docs/protocol.md "Rules").
          ws.send_json(json{{"type", "ping"}, {"ts", 0}});
          last_ping = clock_type::now();
        }
        auto text = ws.read_text(5ms);
        if (text)
          handle(json::parse(*text));
        else if (ws.closed())
          throw std::runtime_error("connection lost after the last send: " + ws.failure());
      }
      // Catch up on anything the live stream skipped: page from the first hole of each channel.
      for (auto& ch : channels) {
        auto& v = view[ch];
        uint64_t after = 0;
        while (v.count(after + 1))
          ++after;
        for (int page = 0; page < 1000; ++page) {
          ws.send_json({{"type", "backfill"}, {"channel_id", ch}, {"after_seq", after},
                        {"limit", 100}});
          json reply;
          for (;;) {
            auto f = ws.read_json(10s);
            if (f.value("type", "") == "message.backfill" && f.value("channel_id", "") == ch &&
                f.value("after_seq", uint64_t{0}) == after) {
              reply = f;
              break;
            }
            handle(f);
          }
          for (auto& m : reply["messages"]) {
            auto seq = m.value("channel_seq", uint64_t{0});
            if (!v.count(seq) && ++late_filled <= 5)
              late_log.push_back(ch + ":" + std::to_string(seq));
            ++backfilled;
            note(ch, seq, m.value("client_msg_id", ""));
          }
          if (!reply.value("has_more", false) || reply["messages"].empty())
            break;
          after = reply["messages"].back().value("channel_seq", uint64_t{0});
          while (v.count(after + 1))
            ++after;
        }
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
};

} // namespace

TEST_CASE("kill -9 of a node under load loses no acked message and its clients re-home",
          "[integration][cluster][failover]") {
  cluster_process cluster(cluster_args);
  INFO("storage: " << cluster.storage());
  auto users = user_range(1, 6); // two clients per node
  auto observer = "U7";
  auto members = users;
  members.push_back(observer);

  // Channels until every node owns at least one (owner = whose acked counter grows).
  std::vector<std::string> channels;
  std::vector<size_t> owner_of;
  std::map<std::string, uint64_t> rest_acked; // warm-up messages: id → seq
  std::set<size_t> owners;
  for (int k = 0; k < 12 && (channels.size() < 6 || owners.size() < cluster.size()); ++k) {
    auto ch = cluster.node(0).create_channel("W1", "load-" + std::to_string(k), members);
    std::vector<uint64_t> before;
    for (size_t i = 0; i < cluster.size(); ++i)
      before.push_back(cluster.metric(i, "parley_messages_acked_total"));
    auto id = "warm-" + ch;
    auto ack = rest_send(cluster.node(0), ch, observer, id);
    rest_acked[id] = ack.value("channel_seq", uint64_t{0});
    size_t owner = cluster.size();
    for (size_t i = 0; i < cluster.size(); ++i)
      if (cluster.metric(i, "parley_messages_acked_total") == before[i] + 1)
        owner = i;
    REQUIRE(owner < cluster.size());
    channels.push_back(ch);
    owner_of.push_back(owner);
    owners.insert(owner);
  }
  // The victim: a node that owns channels, n2 or n3 when possible.
  size_t victim = cluster.size();
  for (size_t i : {size_t{1}, size_t{2}, size_t{0}})
    if (victim == cluster.size() && owners.count(i))
      victim = i;
  REQUIRE(victim < cluster.size());
  size_t survivor = victim == 0 ? 1 : 0;
  std::set<std::string> victim_channels;
  {
    std::ostringstream placement;
    for (size_t k = 0; k < channels.size(); ++k) {
      placement << " " << channels[k] << "@" << cluster_process::name(owner_of[k]);
      if (owner_of[k] == victim)
        victim_channels.insert(channels[k]);
    }
    std::cout << "cluster-test: placement:" << placement.str() << "; victim "
              << cluster_process::name(victim) << std::endl;
  }

  std::vector<std::string> urls;
  for (size_t i = 0; i < cluster.size(); ++i)
    urls.push_back(cluster.node(i).base_url());
  std::atomic<int> dead{-1};
  std::atomic<bool> stop{false};
  std::atomic<size_t> finished_clients{0};
  auto kill_at = clock_type::time_point::max();
  std::vector<std::unique_ptr<load_client>> clients;
  for (size_t j = 0; j < users.size(); ++j) {
    auto c = std::make_unique<load_client>();
    c->user = users[j];
    c->token = node_process::token(users[j]);
    c->home = j / 2;
    c->channels = channels;
    // Each client starts on a different channel so every channel is busy at any moment.
    std::rotate(c->channels.begin(), c->channels.begin() + (j % channels.size()),
                c->channels.end());
    c->urls = &urls;
    c->dead = &dead;
    c->stop = &stop;
    c->finished = &finished_clients;
    c->clients = users.size();
    clients.push_back(std::move(c));
  }
  std::vector<std::thread> threads;
  auto t0 = clock_type::now();
  for (auto& c : clients)
    threads.emplace_back([&c] { c->run(); });

  // Steady phase, then the crash.
  std::this_thread::sleep_for(4s);
  auto marks = cluster.marks();
  kill_at = clock_type::now();
  dead = static_cast<int>(victim);
  cluster.kill9(victim);
  std::vector<size_t> survivors;
  for (size_t i = 0; i < cluster.size(); ++i)
    if (i != victim)
      survivors.push_back(i);
  std::map<size_t, double> down_after_ms;
  for (auto i : survivors) {
    bool seen = cluster.node(i).wait_for_line(
      "node " + cluster_process::name(victim) + " is down", 10s, marks[i]);
    down_after_ms[i] = ms_since(kill_at);
    INFO(cluster_process::name(i) << " output:\n" << cluster.node(i).log_tail());
    CHECK(seen);
  }
  cluster.require_live(survivors, survivors, marks, 10s);
  std::this_thread::sleep_for(4s);
  stop = true;
  for (auto& t : threads)
    t.join();
  auto finished = clock_type::now();
  for (auto& c : clients)
    if (!c->failure.empty()) {
      for (auto i : survivors)
        UNSCOPED_INFO(cluster_process::name(i) << " output:\n" << cluster.node(i).log_tail(40));
      break;
    }

  // -- what the clients saw ------------------------------------------------------------------
  std::map<std::string, std::pair<std::string, uint64_t>> acked; // id → (channel, seq)
  size_t steady_acks = 0;
  double rehome_ms = -1;
  std::ostringstream summary;
  for (auto& c : clients) {
    INFO("client " << c->user << " failure: " << c->failure);
    CHECK(c->failure.empty());
    CHECK(c->conflicts.empty());
    for (auto& x : c->conflicts)
      UNSCOPED_INFO("conflicting seq seen by " << c->user << ": " << x);
    for (auto& [id, seqs] : c->acks) {
      INFO("acks of " << id);
      // A retried send always gets its original ack.
      CHECK(std::all_of(seqs.begin(), seqs.end(), [&](uint64_t s) { return s == seqs[0]; }));
      acked[id] = {c->ack_channel[id], seqs[0]};
    }
    for (auto& e : c->ack_events) {
      if (e.at >= t0 + 1s && e.at < kill_at)
        ++steady_acks;
      if (victim_channels.count(e.channel) && e.sent >= kill_at) {
        auto ms = ms_since(kill_at, e.at);
        if (rehome_ms < 0 || ms < rehome_ms)
          rehome_ms = ms;
      }
    }
    summary << "\n  " << c->user << ": " << c->acks.size() << " acked, " << c->reconnects
            << " reconnects, " << c->unavailable << " unavailable, " << c->rate_limited
            << " rate_limited, " << c->timeouts << " timeouts, " << c->resent << " resent, "
            << c->live_frames << " message.new, " << c->backfilled << " backfilled ("
            << c->late_filled << " only in the final catch-up";
    for (auto& x : c->late_log)
      summary << " " << x;
    summary << "), " << c->cursors << " cursors";
    for (auto& [ch, sent] : c->timeout_log)
      summary << "\n    no answer within 5 s to a send to " << ch
              << (victim_channels.count(ch) ? " (owned by the killed node)" : "") << " made "
              << ms_since(kill_at, sent) << " ms after the kill";
  }
  for (auto& [id, seq] : rest_acked)
    acked[id] = {id.substr(5), seq};

  // -- the stored history --------------------------------------------------------------------
  size_t stored_total = 0;
  std::ostringstream gaps;
  std::map<std::string, int> stored_count;
  std::map<std::pair<std::string, uint64_t>, std::string> by_seq; // (channel, seq) → id
  for (auto& ch : channels) {
    auto history = cluster.node(survivor).history(ch, node_process::token(observer));
    stored_total += history.size();
    std::map<uint64_t, std::string> stored;
    uint64_t prev = 0;
    for (auto& m : history) {
      auto seq = m.value("channel_seq", uint64_t{0});
      auto id = m.value("client_msg_id", "");
      INFO(ch << " seq " << seq << " after " << prev);
      CHECK(seq > prev); // unique and strictly increasing: never reused
      if (seq > prev + 1)
        gaps << " " << ch << ":" << prev + 1
             << (seq - 1 > prev + 1 ? "-" + std::to_string(seq - 1) : "");
      prev = seq;
      ++stored_count[id];
      stored[seq] = id;
      by_seq[{ch, seq}] = id;
      INFO("stored " << m.dump());
      CHECK(acked.count(id) == 1); // every sender retried until acked
    }
    for (auto& c : clients) {
      // Compared entry by entry so a failure names the seqs that differ.
      std::ostringstream diff;
      size_t differences = 0;
      auto& v = c->view[ch];
      for (auto& [seq, id] : stored) {
        auto it = v.find(seq);
        if (it == v.end() || it->second != id) {
          if (++differences <= 10)
            diff << " seq " << seq << ": stored " << id << ", client "
                 << (it == v.end() ? "(missing)" : it->second) << ";";
        }
      }
      for (auto& [seq, id] : v)
        if (!stored.count(seq) && ++differences <= 10)
          diff << " seq " << seq << ": not stored, client " << id << ";";
      INFO("final view of " << c->user << " (live + backfilled) of " << ch << " ("
                            << v.size() << " messages) vs stored (" << stored.size()
                            << "): " << differences << " differences:" << diff.str());
      CHECK(differences == 0);
    }
  }
  // An acked message is stored exactly once, with its acked seq.
  for (auto& [id, where] : acked) {
    INFO("acked " << id << " in " << where.first << " at seq " << where.second);
    CHECK(stored_count[id] == 1);
    auto it = by_seq.find(where);
    REQUIRE(it != by_seq.end());
    CHECK(it->second == id);
  }

  double steady_s = std::chrono::duration<double>(kill_at - (t0 + 1s)).count();
  std::ostringstream figures;
  figures << std::fixed << std::setprecision(1) << "kill -9 of " << cluster_process::name(victim)
          << " (owner of " << victim_channels.size() << " of " << channels.size()
          << " channels) on " << (cluster.on_postgres() ? "PostgreSQL" : "SQLite")
          << ": steady phase " << steady_acks / steady_s
          << " msgs/s acked through the 3-node cluster (" << steady_acks << " acks in " << steady_s
          << " s, 6 WebSocket clients, window 4); ";
  for (auto& [i, ms] : down_after_ms)
    figures << cluster_process::name(i) << " saw the node down after " << ms << " ms; ";
  figures << "re-homing (kill -> first ack of a send made after the kill in a channel "
          << cluster_process::name(victim) << " owned): " << rehome_ms << " ms; "
          << acked.size() << " acked, " << stored_total << " stored; empty gaps:"
          << (gaps.str().empty() ? " none" : gaps.str()) << "; run " << ms_since(t0, finished)
          << " ms" << summary.str();
  std::cout << "cluster-test: " << figures.str() << std::endl;
  WARN(figures.str());
  CHECK(rehome_ms >= 0);
  CHECK(acked.size() == stored_total);
}

TEST_CASE("a killed node that comes back rejoins without restarting the others",
          "[integration][cluster]") {
  cluster_process cluster(cluster_args);
  auto channel = cluster.node(0).create_channel("W1", "rejoin", {"U1", "U2"});
  auto marks = cluster.marks();
  cluster.kill9(1);
  cluster.require_live({0, 2}, {0, 2}, marks, 10s);
  for (size_t i : {size_t{0}, size_t{2}})
    CHECK(cluster.metric(i, "parley_cluster_live_nodes") == 2);
  auto pids_before = std::vector<pid_t>{cluster.node(0).pid(), cluster.node(2).pid()};

  marks = cluster.marks();
  auto restart_at = clock_type::now();
  cluster.restart(1);
  cluster.require_live({0, 1, 2}, {0, 1, 2}, marks, 20s);
  std::cout << "cluster-test: restarted n2 rejoined (all nodes print n1,n2,n3) after "
            << ms_since(restart_at) << " ms" << std::endl;
  // The others were never restarted.
  CHECK(cluster.node(0).pid() == pids_before[0]);
  CHECK(cluster.node(2).pid() == pids_before[1]);
  for (size_t i = 0; i < cluster.size(); ++i)
    CHECK(cluster.metric(i, "parley_cluster_live_nodes") == 3);

  // A send through the restarted node works and reaches a member on another node.
  auto watcher = open_session(cluster.node(0), "U2");
  auto s = open_session(cluster.node(1), "U1");
  s.ws.send_json(send_frame(channel, "back again", "rejoin-1"));
  auto ack = expect_frame(s.ws, "message.ack", 10s);
  CHECK(ack.value("channel_seq", uint64_t{0}) == 1);
  auto news = read_news(watcher.ws, channel, 1);
  REQUIRE(news.size() == 1);
  CHECK(news[0] == std::make_pair(uint64_t{1}, std::string("rejoin-1")));
}

namespace {

/// Reads frames until `n` presence.update about `user` arrived (or `timeout`); returns them as
/// channel -> statuses in arrival order.
std::map<std::string, std::vector<std::string>>
presence_updates(parley::client::ws_client& ws, const std::string& user, size_t n,
                 std::chrono::milliseconds timeout = 10s) {
  std::map<std::string, std::vector<std::string>> out;
  size_t seen = 0;
  auto deadline = clock_type::now() + timeout;
  while (seen < n && clock_type::now() < deadline) {
    auto text = ws.read_text(50ms);
    if (!text)
      continue;
    auto f = json::parse(*text);
    if (f.value("type", "") == "presence.update" && f.value("user_id", "") == user) {
      out[f.value("channel_id", "")].push_back(f.value("status", ""));
      ++seen;
    }
  }
  return out;
}

} // namespace

TEST_CASE("presence spans nodes: a user connected to two nodes is away, online and offline as "
          "one user, with one update per shared channel",
          "[integration][cluster][presence]") {
  cluster_process cluster(cluster_args);
  auto c1 = cluster.node(0).create_channel("W1", "presence-1", {"U1", "U2"});
  auto c2 = cluster.node(0).create_channel("W1", "presence-2", {"U1", "U2"});
  auto each = [&](const std::string& status) {
    return std::map<std::string, std::vector<std::string>>{{c1, {status}}, {c2, {status}}};
  };
  // A on node 1; B on nodes 2 and 3 (the issue's report). Each step expects exactly its
  // updates: a stray one from the step before would come first and fail the comparison.
  auto a = open_session(cluster.node(0), "U1");
  auto b2 = open_session(cluster.node(1), "U2");
  CHECK(presence_updates(a.ws, "U2", 2) == each("online"));
  auto b3 = open_session(cluster.node(2), "U2");

  b2.ws.send_json({{"type", "presence.set"}, {"status", "away"}});
  CHECK(presence_updates(a.ws, "U2", 2) == each("away"));
  b3.ws.send_json({{"type", "presence.set"}, {"status", "online"}});
  CHECK(presence_updates(a.ws, "U2", 2) == each("online"));

  // Closing one node's connection is no transition; the next update is the away below.
  b3.ws.close();
  b2.ws.send_json({{"type", "presence.set"}, {"status", "away"}});
  CHECK(presence_updates(a.ws, "U2", 2) == each("away"));
  b2.ws.close();
  CHECK(presence_updates(a.ws, "U2", 2) == each("offline"));
  drain(a.ws, 300ms);
  a.ws.send_json({{"type", "presence.get"}, {"channel_id", c1}});
  auto state = expect_frame(a.ws, "presence.state", 5s, c1);
  for (auto& u : state["users"])
    CHECK(u.value("user_id", "") != "U2");
}

TEST_CASE("presence subscriptions work across nodes where channels push no presence",
          "[integration][cluster][presence]") {
  auto args = cluster_args;
  args.push_back("--presence.push-max-members=1"); // no channel pushes presence
  cluster_process cluster(args);
  cluster.node(0).create_channel("W1", "big", {"U1", "U2"});
  auto a = open_session(cluster.node(0), "U1");
  a.ws.send_json({{"type", "presence.subscribe"}, {"user_ids", {"U2", "U3"}}});
  auto answer = expect_frame(a.ws, "presence.users", 5s);
  CHECK(answer["users"] == json::parse(R"([{"user_id":"U2","status":"offline"},)"
                                       R"({"user_id":"U3","status":"offline"}])"));
  // Only subscription updates (without channel_id) can arrive: the channel pushes none.
  auto b2 = open_session(cluster.node(1), "U2");
  CHECK(presence_updates(a.ws, "U2", 1) == std::map<std::string, std::vector<std::string>>{
                                             {"", {"online"}}});
  auto b3 = open_session(cluster.node(2), "U2");
  b3.ws.send_json({{"type", "presence.set"}, {"status", "away"}});
  CHECK(presence_updates(a.ws, "U2", 1) == std::map<std::string, std::vector<std::string>>{
                                             {"", {"away"}}});
  b3.ws.close();
  b2.ws.close();
  CHECK(presence_updates(a.ws, "U2", 1) == std::map<std::string, std::vector<std::string>>{
                                             {"", {"offline"}}});
  // Over the bound: refused whole.
  json many = json::array();
  for (int i = 100; i < 200; ++i)
    many.push_back("U" + std::to_string(i));
  for (int k = 0; k < 5; ++k) {
    for (auto& id : many)
      id = "U" + std::to_string(std::stoi(id.get<std::string>().substr(1)) + 100);
    a.ws.send_json({{"type", "presence.subscribe"}, {"user_ids", many}});
    if (k < 4)
      CHECK(expect_frame(a.ws, "presence.users", 5s)["users"].size() == 100);
  }
  CHECK(expect_error(a.ws, "bad_request", 5s).value("message", "").find("500") !=
        std::string::npos);
}
