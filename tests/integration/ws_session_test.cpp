// Sessions over real sockets: ordering, catch-up, retries and the session timers.

#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>

#include "tests/integration/node_process.hpp"

using namespace parley::test;
using json = nlohmann::json;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

/// What one client saw while sending its share of messages.
struct client_log {
  std::vector<std::pair<uint64_t, std::string>>
    news; // (channel_seq, client_msg_id) in arrival order
  std::map<std::string, json> acks;
  std::string failure;
};

/// Sends `ids` to `channel` (`burst` at once, then one per 1.1 s, which fits a 1 msg/s bucket;
/// a rate_limited send is retried later with the same id) while collecting acks and
/// message.new frames until `total` message.new frames arrived.
void drive(parley::client::ws_client& ws, const std::string& channel,
           std::deque<std::string> ids, size_t total, int burst, client_log& out) {
  const size_t own = ids.size();
  auto deadline = clock_type::now() + 60s;
  auto next_send = clock_type::now();
  int sent = 0;
  try {
    while (out.acks.size() < own || out.news.size() < total) {
      auto now = clock_type::now();
      if (now >= deadline) {
        out.failure = "timed out with " + std::to_string(out.acks.size()) + " acks and " +
                      std::to_string(out.news.size()) + " message.new";
        return;
      }
      if (!ids.empty() && now >= next_send) {
        ws.send_json(send_frame(channel, "text of " + ids.front(), ids.front()));
        ids.pop_front();
        ++sent;
        next_send = sent < burst ? now : now + 1100ms;
      }
      auto wait = ids.empty() ? 200ms
                              : std::max(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  next_send - clock_type::now()));
      auto text = ws.read_text(wait);
      if (!text) {
        if (ws.closed()) {
          out.failure = "connection closed";
          return;
        }
        continue;
      }
      auto frame = json::parse(*text);
      auto type = frame.value("type", "");
      if (type == "message.ack") {
        out.acks[frame.value("client_msg_id", "")] = frame;
      } else if (type == "message.new" && frame.value("channel_id", "") == channel) {
        out.news.emplace_back(frame.value("channel_seq", uint64_t{0}),
                              frame.value("client_msg_id", ""));
      } else if (type == "error" && frame.value("code", "") == "rate_limited" &&
                 frame["ref_id"].is_string()) {
        ids.push_front(frame["ref_id"].get<std::string>());
        next_send = clock_type::now() + 1100ms;
      } else if (type == "error") {
        out.failure = "unexpected error frame " + frame.dump();
        return;
      }
    }
  } catch (const std::exception& e) {
    out.failure = e.what();
  }
}

} // namespace

TEST_CASE("every client sees one contiguous seq order for interleaved senders",
          "[integration][ws][ordering]") {
  // A larger per-user burst lets the 60 sends interleave at full speed; with the default
  // burst of 5 the pacing in drive() still completes, in about 16 s.
  node_process node({"--rate.user-burst=50", "--rate.user-per-s=50"});
  const int burst = 50;
  auto channel = node.create_channel("W1", "ordering", {"U1", "U2", "U3"});
  std::vector<session> sessions;
  for (const auto& u : {"U1", "U2", "U3"})
    sessions.push_back(open_session(node, u));

  std::vector<client_log> logs(3);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < 3; ++i) {
    std::deque<std::string> ids;
    for (int k = 0; k < 20; ++k)
      ids.push_back("ord-" + std::to_string(i) + "-" + std::to_string(k));
    threads.emplace_back(
        [&, i, ids] { drive(sessions[i].ws, channel, ids, 60, burst, logs[i]); });
  }
  for (auto& t : threads)
    t.join();

  for (size_t i = 0; i < 3; ++i) {
    INFO("client U" << i + 1);
    REQUIRE(logs[i].failure.empty());
    REQUIRE(logs[i].news.size() == 60);
    for (size_t k = 0; k < 60; ++k)
      REQUIRE(logs[i].news[k].first == k + 1);
    // Same order everywhere: seq k carries the same message for every client.
    REQUIRE(logs[i].news == logs[0].news);
    REQUIRE(logs[i].acks.size() == 20);
    std::map<std::string, uint64_t> seq_of;
    for (const auto& [seq, id] : logs[i].news)
      seq_of[id] = seq;
    for (int k = 0; k < 20; ++k) {
      auto id = "ord-" + std::to_string(i) + "-" + std::to_string(k);
      REQUIRE(logs[i].acks.count(id) == 1);
      const auto& ack = logs[i].acks[id];
      CHECK(ack.value("channel_id", "") == channel);
      // The sender receives its own message.new too, with the acked seq.
      REQUIRE(seq_of.count(id) == 1);
      CHECK(ack.value("channel_seq", uint64_t{0}) == seq_of[id]);
      CHECK(ack["ts"].is_number_integer());
    }
  }
  std::set<std::string> distinct;
  for (const auto& entry : logs[0].news)
    distinct.insert(entry.second);
  CHECK(distinct.size() == 60);
}

TEST_CASE("a reconnecting client catches up with one backfill page and then pulls the rest",
          "[integration][ws][backfill]") {
  node_process node;
  // 50 senders x 5 messages stay inside the default per-user burst of 5.
  auto senders = user_range(2, 50);
  auto members = senders;
  members.push_back("U1");
  auto channel = node.create_channel("W1", "catch-up", members);
  {
    auto reader = open_session(node, "U1");
    REQUIRE(reader.hello_ack["channels"][channel] == 0);
    reader.ws.close();
  }
  for (const auto& u : senders) {
    auto token = node_process::token(u);
    for (int k = 0; k < 5; ++k) {
      json body = {{"text", u + " says " + std::to_string(k)},
                   {"client_msg_id", "cu-" + u + "-" + std::to_string(k)}};
      auto res = node.http("POST", "/v1/channels/" + channel + "/messages", body.dump(), token);
      INFO(res.body);
      REQUIRE(res.status == 200);
    }
  }

  auto reader = open_session(node, "U1", "W1", {{channel, 0}});
  REQUIRE(reader.hello_ack["channels"][channel] == 250);
  auto check_page = [&](const json& page, uint64_t after, size_t count, bool has_more) {
    INFO("page after " << after);
    REQUIRE(page.value("channel_id", "") == channel);
    REQUIRE(page.value("after_seq", uint64_t{999}) == after);
    REQUIRE(page["messages"].size() == count);
    REQUIRE(page.value("has_more", !has_more) == has_more);
    for (size_t k = 0; k < count; ++k) {
      const auto& m = page["messages"][k];
      REQUIRE(m.value("channel_seq", uint64_t{0}) == after + k + 1);
      REQUIRE(m.value("channel_id", "") == channel);
      REQUIRE(m["user_id"].is_string());
      REQUIRE(m["text"].is_string());
      REQUIRE(m["ts"].is_number_integer());
      REQUIRE(m["client_msg_id"].is_string());
    }
  };
  check_page(expect_frame(reader.ws, "message.backfill", 5s, channel), 0, 100, true);
  reader.ws.send_json({{"type", "backfill"}, {"channel_id", channel}, {"after_seq", 100},
                       {"limit", 100}});
  check_page(expect_frame(reader.ws, "message.backfill", 5s, channel), 100, 100, true);
  reader.ws.send_json({{"type", "backfill"}, {"channel_id", channel}, {"after_seq", 200},
                       {"limit", 100}});
  check_page(expect_frame(reader.ws, "message.backfill", 5s, channel), 200, 50, false);
}

TEST_CASE("a retried send with the same client_msg_id gets the original ack and is stored once",
          "[integration][ws][dedup]") {
  node_process node;
  auto channel = node.create_channel("W1", "retry", {"U1", "U2"});
  auto a = open_session(node, "U1");
  auto b = open_session(node, "U2");

  a.ws.send_json(send_frame(channel, "first", "retry-1"));
  auto ack1 = expect_frame(a.ws, "message.ack");
  REQUIRE(ack1.value("client_msg_id", "") == "retry-1");
  REQUIRE(ack1.value("channel_seq", uint64_t{0}) == 1);
  auto new1 = expect_frame(b.ws, "message.new", 5s, channel);
  REQUIRE(new1.value("channel_seq", uint64_t{0}) == 1);

  // Whatever text the retry carries, it gets the original ack.
  a.ws.send_json(send_frame(channel, "changed text", "retry-1"));
  auto ack2 = expect_frame(a.ws, "message.ack");
  CHECK(ack2.value("client_msg_id", "") == "retry-1");
  CHECK(ack2.value("channel_id", "") == channel);
  CHECK(ack2.value("channel_seq", uint64_t{0}) == 1);
  CHECK(ack2["ts"] == ack1["ts"]);

  // Over REST too.
  auto res = node.http("POST", "/v1/channels/" + channel + "/messages",
                       json{{"text", "again"}, {"client_msg_id", "retry-1"}}.dump(),
                       node_process::token("U1"));
  REQUIRE(res.status == 200);
  auto rest_ack = parse_body(res);
  CHECK(rest_ack.value("channel_seq", uint64_t{0}) == 1);
  CHECK(rest_ack["ts"] == ack1["ts"]);

  // The retry was not delivered again: B's next message.new is the next new message.
  a.ws.send_json(send_frame(channel, "second", "retry-2"));
  auto ack3 = expect_frame(a.ws, "message.ack");
  CHECK(ack3.value("channel_seq", uint64_t{0}) == 2);
  auto new2 = expect_frame(b.ws, "message.new", 5s, channel);
  CHECK(new2.value("channel_seq", uint64_t{0}) == 2);
  CHECK(new2.value("client_msg_id", "") == "retry-2");

  auto stored = node.history(channel, node_process::token("U2"));
  REQUIRE(stored.size() == 2);
  CHECK(stored[0].value("text", "") == "first");
  CHECK(stored[0].value("client_msg_id", "") == "retry-1");
  CHECK(stored[1].value("client_msg_id", "") == "retry-2");
}

TEST_CASE("a connection without hello is closed with 1008 after the hello timeout",
          "[integration][ws][timeouts]") {
  node_process node({"--hello-timeout-ms=1000"});
  auto ws = open_socket(node, "U1");
  auto start = clock_type::now();
  REQUIRE(ws.wait_closed(5s));
  auto elapsed = clock_type::now() - start;
  REQUIRE(ws.close_code() == 1008);
  CHECK(elapsed >= 800ms);

  // A session that said hello in time is not affected.
  auto s = open_session(node, "U2");
  CHECK_FALSE(s.ws.read_text(1500ms).has_value());
  CHECK(s.ws.is_open());
}

TEST_CASE("a silent connection is closed with 1001 and a control ping resets the idle timer",
          "[integration][ws][timeouts]") {
  node_process node({"--idle-timeout-ms=1500"});
  // U9 is in no channel, so no presence frames arrive while the test waits.
  auto s = open_session(node, "U9");
  auto connected = clock_type::now();
  CHECK_FALSE(s.ws.read_text(900ms).has_value());
  s.ws.ping("keepalive");
  auto pinged = clock_type::now();
  // 1.8 s after connect and still open: the ping reset the timer.
  CHECK_FALSE(s.ws.read_text(900ms).has_value());
  REQUIRE(s.ws.is_open());
  REQUIRE(s.ws.wait_closed(5s));
  auto now = clock_type::now();
  CHECK(s.ws.close_code() == 1001);
  CHECK(now - pinged >= 1300ms);
  CHECK(now - connected >= 2000ms);
}
