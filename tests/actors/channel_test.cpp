// Deterministic simulation of the send path (docs/architecture.md "Send path"; docs/protocol.md
// "Rules"): connection -> channel -> group commit (real SQLite) -> ack + fan-out through the
// gateway.

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/actor_fixture.hpp"

namespace parley::test {
namespace {

const workspace_id ws{1};
const user_id u1{1}, u2{2}, u3{3};

std::string cmid(size_t sender, int i) {
  return "u" + std::to_string(sender) + "-m" + std::to_string(i);
}

/// Rows written behind the actors' back, as another writer would.
std::vector<chat_message> foreign_rows(channel_id ch, uint64_t first, uint64_t last, user_id by,
                                       const std::string& prefix) {
  std::vector<chat_message> rows;
  for (auto seq = first; seq <= last; ++seq)
    rows.push_back(storage::test::msg(ws.value, ch.value, seq, by.value,
                                      prefix + std::to_string(seq)));
  return rows;
}

} // namespace

TEST_CASE("a channel assigns contiguous seqs in one order seen identically by every member "
          "under interleaved senders",
          "[actors][channel]") {
  test_db db;
  std::vector<user_id> users{u1, u2, u3};
  auto ch = db.create_channel(ws, "general", users);
  auto limits = test_limits();
  limits.user_burst = 100; // this test is about order, not rate limits
  actor_fixture fx{db, limits};
  std::vector<client> clients;
  for (auto u : users)
    clients.push_back(fx.join(principal{ws, u}));
  for (auto& c : clients)
    c.sink->take_new();
  for (int i = 0; i < 10; ++i)
    for (size_t k = 0; k < clients.size(); ++k)
      fx.inject(clients[k], send_frame(ch, "text " + cmid(k, i), cmid(k, i)));
  fx.run();

  auto reference = clients[0].sink->of_type("message.new");
  REQUIRE(seqs_of(reference) == iota_seqs(1, 30));
  for (size_t i = 1; i < reference.size(); ++i)
    CHECK(reference[i - 1].at("ts").get<int64_t>() <= reference[i].at("ts").get<int64_t>());

  for (size_t k = 0; k < clients.size(); ++k) {
    INFO("client " << k);
    auto& sink = *clients[k].sink;
    CHECK(sink.of_type("error").empty());
    // Every member sees the very same sequence of message.new frames.
    CHECK(sink.of_type("message.new") == reference);
    // Each sender gets exactly its 10 acks, in the order it sent (one connection is FIFO).
    auto acks = sink.of_type("message.ack");
    REQUIRE(acks.size() == 10);
    auto frames = sink.frames();
    uint64_t previous = 0;
    for (int i = 0; i < 10; ++i) {
      auto& ack = acks[static_cast<size_t>(i)];
      CHECK(ack.at("client_msg_id") == cmid(k, i));
      CHECK(ack.at("channel_id") == ch.str());
      auto seq = ack.at("channel_seq").get<uint64_t>();
      CHECK(seq > previous);
      previous = seq;
      // The ack carries the seq and ts of the delivered message.
      auto& delivered = reference.at(seq - 1);
      CHECK(delivered.at("client_msg_id") == cmid(k, i));
      CHECK(delivered.at("user_id") == users[k].str());
      CHECK(delivered.at("ts") == ack.at("ts"));
      // The sender's ack comes before its own message.new of that seq.
      auto ack_at = index_of(frames, [&](const json& f) {
        return f.at("type") == "message.ack" && f.at("channel_seq") == seq;
      });
      auto new_at = index_of(frames, [&](const json& f) {
        return f.at("type") == "message.new" && f.at("channel_seq") == seq;
      });
      CHECK(ack_at >= 0);
      CHECK(new_at > ack_at);
    }
  }

  auto stored = db.messages(ws, ch);
  REQUIRE(stored.size() == 30);
  for (size_t i = 0; i < stored.size(); ++i) {
    CHECK(stored[i].seq == i + 1);
    CHECK(stored[i].client_msg_id == reference[i].at("client_msg_id").get<std::string>());
    CHECK(stored[i].ts == reference[i].at("ts").get<int64_t>());
  }
}

TEST_CASE("a retried client_msg_id gets the original ack and is stored and delivered once",
          "[actors][channel][dedup]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});

  SECTION("a retry after the ack") {
    fx.inject(a, send_frame(ch, "first", "k1"));
    fx.run();
    fx.inject(a, send_frame(ch, "other text of a retry", "k1"));
    fx.run();
    auto acks = a.sink->of_type("message.ack");
    REQUIRE(acks.size() == 2);
    CHECK(acks[0].at("channel_seq") == 1);
    CHECK(acks[1] == acks[0]);
  }

  SECTION("a retry that arrives while the first is still in flight") {
    fx.inject(a, send_frame(ch, "first", "k1"));
    fx.inject(a, send_frame(ch, "first", "k1"));
    fx.run();
    auto acks = a.sink->of_type("message.ack");
    REQUIRE(acks.size() == 2);
    CHECK(acks[0].at("channel_seq") == 1);
    CHECK(acks[1] == acks[0]);
  }

  SECTION("a retry from another connection of the same user") {
    fx.inject(a, send_frame(ch, "first", "k1"));
    fx.run();
    auto a2 = fx.join(principal{ws, u1});
    fx.inject(a2, send_frame(ch, "first", "k1"));
    fx.run();
    auto original = a.sink->of_type("message.ack");
    auto retried = a2.sink->of_type("message.ack");
    REQUIRE(original.size() == 1);
    REQUIRE(retried.size() == 1);
    CHECK(retried[0] == original[0]);
    CHECK(a2.sink->of_type("message.new").empty());
  }

  CHECK(a.sink->of_type("error").empty());
  CHECK(seqs_of(a.sink->of_type("message.new")) == std::vector<uint64_t>{1});
  CHECK(seqs_of(b.sink->of_type("message.new")) == std::vector<uint64_t>{1});
  CHECK(b.sink->of_type("message.new")[0].at("text") == "first");
  auto stored = db.messages(ws, ch);
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].text == "first");
  CHECK(stored[0].client_msg_id == "k1");
}

TEST_CASE("after a restart the next send gets the highest stored seq + 1 and an acked retry "
          "gets its original ack from storage",
          "[actors][channel][recovery]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  json first_ack;
  {
    // The first life of the node: three messages acked.
    auto fx = std::make_unique<actor_fixture>(db);
    auto a = fx->join(principal{ws, u1});
    for (int i = 1; i <= 3; ++i)
      fx->inject(a, send_frame(ch, "before " + std::to_string(i), "r" + std::to_string(i)));
    fx->run();
    auto acks = a.sink->of_type("message.ack");
    REQUIRE(seqs_of(acks) == iota_seqs(1, 3));
    first_ack = acks[0];
  } // channel, group commit, readers and the whole actor system are gone
  // Rows another writer stored while this node was down.
  db.append(foreign_rows(ch, 4, 7, u2, "foreign-"));

  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto hello_ack = a.sink->of_type("hello_ack");
  REQUIRE(hello_ack.size() == 1);
  CHECK(hello_ack[0].at("channels").at(ch.str()) == 7);
  a.sink->take_new();

  fx.inject(a, send_frame(ch, "after restart", "r4"));
  fx.run();
  fx.inject(a, send_frame(ch, "a retry of r1 with other text", "r1"));
  fx.run();

  auto frames = a.sink->take_new();
  CHECK(filter(frames, "error").empty());
  auto acks = filter(frames, "message.ack");
  REQUIRE(acks.size() == 2);
  CHECK(acks[0].at("client_msg_id") == "r4");
  CHECK(acks[0].at("channel_seq") == 8);
  CHECK(acks[1] == first_ack); // same seq 1, same ts
  CHECK(seqs_of(filter(frames, "message.new")) == std::vector<uint64_t>{8});

  auto stored = db.messages(ws, ch);
  REQUIRE(stored.size() == 8);
  CHECK(stored[0].text == "before 1");
  CHECK(stored[7].seq == 8);
  CHECK(stored[7].client_msg_id == "r4");
}

TEST_CASE("after its first request timeout a channel finds a retry's stored original at commit "
          "(its new seq stays empty) and looks up only a send about to be refused",
          "[actors][channel][dedup]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  db.append(foreign_rows(ch, 1, 3, u1, "old-")); // acked by a node that is gone
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  fx.inject(a, send_frame(ch, "first", "w1"));
  fx.run();
  // Past the window in which resends after a restart are looked up (5 s request timeout).
  fx.advance(std::chrono::seconds(5));
  a.sink->take_new();
  b.sink->take_new();

  fx.inject(a, send_frame(ch, "a retry of old-2", "old-2"));
  fx.inject(a, send_frame(ch, "second", "w2"));
  fx.run();
  auto frames = a.sink->take_new();
  CHECK(filter(frames, "error").empty());
  auto acks = filter(frames, "message.ack");
  REQUIRE(acks.size() == 2);
  CHECK(acks[0].at("client_msg_id") == "old-2");
  CHECK(acks[0].at("channel_seq") == 2); // the original
  CHECK(acks[1].at("channel_seq") == 6); // seq 5 went to the retry and stays empty
  CHECK(seqs_of(filter(b.sink->take_new(), "message.new")) == std::vector<uint64_t>{6});

  // The bucket (burst 5) is empty after three more: a retry is still answered, not refused.
  for (auto k : {"w3", "w4", "w5"})
    fx.inject(a, send_frame(ch, "more", k));
  fx.inject(a, send_frame(ch, "a retry of old-3", "old-3"));
  fx.inject(a, send_frame(ch, "one too many", "w6"));
  fx.run();
  frames = a.sink->take_new();
  acks = filter(frames, "message.ack");
  REQUIRE(acks.size() == 4);
  CHECK(acks[3].at("client_msg_id") == "old-3");
  CHECK(acks[3].at("channel_seq") == 3);
  auto errors = filter(frames, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].at("code") == "rate_limited");
  CHECK(errors[0].at("ref_id") == "w6");

  auto stored = db.messages(ws, ch);
  std::vector<uint64_t> seqs;
  for (auto& m : stored)
    seqs.push_back(m.seq);
  CHECK(seqs == std::vector<uint64_t>{1, 2, 3, 4, 6, 7, 8, 9});
}

TEST_CASE("the sixth immediate send is rate limited, an acked retry never is, and a second "
          "later one more is allowed",
          "[actors][channel][rate_limit]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  a.sink->take_new();
  for (int i = 1; i <= 6; ++i)
    fx.inject(a, send_frame(ch, "burst", "b" + std::to_string(i)));
  fx.run();
  auto frames = a.sink->take_new();
  CHECK(seqs_of(filter(frames, "message.ack")) == iota_seqs(1, 5));
  auto errors = filter(frames, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].at("code") == "rate_limited");
  CHECK(errors[0].at("ref_id") == "b6");
  CHECK(errors[0].at("channel_id") == ch.str());

  // A retry of an acked message is answered before the rate limit is looked at.
  fx.inject(a, send_frame(ch, "burst", "b1"));
  fx.run();
  frames = a.sink->take_new();
  REQUIRE(filter(frames, "message.ack").size() == 1);
  CHECK(filter(frames, "message.ack")[0].at("channel_seq") == 1);
  CHECK(filter(frames, "error").empty());

  // The bucket is per user: another member still has its burst.
  fx.inject(b, send_frame(ch, "from b", "x1"));
  fx.run();
  CHECK(seqs_of(b.sink->of_type("message.ack")) == std::vector<uint64_t>{6});

  // 1 msg/s: one second later exactly one more token (the refused send consumed none).
  fx.advance(std::chrono::seconds(1));
  fx.inject(a, send_frame(ch, "burst", "b6"));
  fx.inject(a, send_frame(ch, "burst", "b7"));
  fx.run();
  frames = a.sink->take_new();
  auto acks = filter(frames, "message.ack");
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].at("client_msg_id") == "b6");
  CHECK(acks[0].at("channel_seq") == 7);
  errors = filter(frames, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].at("code") == "rate_limited");
  CHECK(errors[0].at("ref_id") == "b7");
  CHECK(db.messages(ws, ch).size() == 7);
}

TEST_CASE("a non-member and an unknown channel both get not_in_channel", "[actors][channel]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  db.create_channel(ws, "other", {u3});
  actor_fixture fx{db};
  auto outsider = fx.join(principal{ws, u3});
  // U1 of another workspace is another person (docs/protocol.md "Identifiers").
  auto stranger = fx.join(principal{workspace_id{2}, u1});
  channel_id unknown{999999};
  for (auto* c : {&outsider, &stranger}) {
    c->sink->take_new();
    fx.inject(*c, send_frame(ch, "hi", "n1"));
    fx.inject(*c, send_frame(unknown, "hi", "n2"));
    fx.inject(*c, backfill_frame(ch, 0, 10));
    fx.inject(*c, backfill_frame(unknown, 0, 10));
    fx.inject(*c, json{{"type", "presence.get"}, {"channel_id", ch.str()}});
    fx.run();
    auto frames = c->sink->take_new();
    REQUIRE(frames.size() == 5);
    // Answers from different channels may come in any order (cross-channel order is not
    // defined): compare them as a set of (ref_id, channel_id).
    std::vector<std::string> got;
    for (auto& f : frames) {
      INFO(f.dump());
      CHECK(f.at("type") == "error");
      CHECK(f.at("code") == "not_in_channel");
      auto ref = f.at("ref_id").is_null() ? std::string{"-"} : f.at("ref_id").get<std::string>();
      got.push_back(ref + "|" + f.value("channel_id", std::string{"?"}));
    }
    std::sort(got.begin(), got.end());
    std::vector<std::string> want{"-|" + ch.str(), "-|" + ch.str(), "-|" + unknown.str(),
                                  "n1|" + ch.str(), "n2|" + unknown.str()};
    std::sort(want.begin(), want.end());
    CHECK(got == want);
  }
  CHECK(db.messages(ws, ch).empty());
  CHECK(db.messages(ws, unknown).empty());
}

TEST_CASE("backfill pages through history from storage and from the recent ring",
          "[actors][channel][backfill]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  db.append(foreign_rows(ch, 1, 150, u2, "pre-"));
  auto limits = test_limits();
  REQUIRE(limits.recent_ring == 16);
  actor_fixture fx{db, limits};
  auto a = fx.connect(principal{ws, u1});
  fx.hello(a, {{ch, 2}});

  // hello: hello_ack, then ONE page of the oldest <= 100 messages after last_seq.
  auto frames = a.sink->take_new();
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(frames[0].at("channels").at(ch.str()) == 150);
  CHECK(frames[1].at("type") == "message.backfill");
  CHECK(frames[1].at("after_seq") == 2);
  CHECK(seqs_of(frames[1].at("messages")) == iota_seqs(3, 102));
  CHECK(frames[1].at("has_more") == true);

  for (int i = 1; i <= 5; ++i)
    fx.inject(a, send_frame(ch, "live " + std::to_string(i), "l" + std::to_string(i)));
  fx.run();
  CHECK(seqs_of(a.sink->of_type("message.ack")) == iota_seqs(151, 155));
  a.sink->take_new();

  // Rewrite the stored text of two rows the ring holds (140..155) and one it does not: a
  // page served from the ring shows the text the channel saw, one from storage the new text.
  db.exec_raw("UPDATE messages SET content = 'rewritten' WHERE channel_seq IN (20, 150, 151)");

  auto page = [&](uint64_t after, uint32_t limit) {
    fx.inject(a, backfill_frame(ch, after, limit));
    fx.run();
    auto got = a.sink->take_new();
    REQUIRE(got.size() == 1);
    REQUIRE(got[0].at("type") == "message.backfill");
    CHECK(got[0].at("channel_id") == ch.str());
    CHECK(got[0].at("after_seq") == after);
    return got[0];
  };

  SECTION("paging from 0 returns every message once, ascending") {
    std::vector<uint64_t> seen;
    uint64_t after = 0;
    for (int guard = 0; guard < 100; ++guard) {
      auto p = page(after, 7);
      auto s = seqs_of(p.at("messages"));
      seen.insert(seen.end(), s.begin(), s.end());
      if (p.at("has_more") == false)
        break;
      REQUIRE(s.size() == 7);
      after = s.back();
    }
    CHECK(seen == iota_seqs(1, 155));
  }

  SECTION("below the ring the page comes from storage") {
    auto p = page(15, 10);
    CHECK(seqs_of(p.at("messages")) == iota_seqs(16, 25));
    CHECK(p.at("has_more") == true);
    CHECK(p.at("messages")[4].at("text") == "rewritten");
    CHECK(p.at("messages")[3].at("text") == "text of " + ch.str() + "#19");
    CHECK(p.at("messages")[3].at("client_msg_id") == "pre-19");
    CHECK(p.at("messages")[3].at("user_id") == u2.str());
  }

  SECTION("within the ring the page comes from memory") {
    auto p = page(145, 100);
    CHECK(seqs_of(p.at("messages")) == iota_seqs(146, 155));
    CHECK(p.at("has_more") == false);
    CHECK(p.at("messages")[4].at("text") == "text of " + ch.str() + "#150");
    CHECK(p.at("messages")[5].at("text") == "live 1");
    CHECK(p.at("messages")[5].at("user_id") == u1.str());
  }

  SECTION("limit is clamped to 1..100 and nothing follows the latest seq") {
    CHECK(seqs_of(page(0, 0).at("messages")) == std::vector<uint64_t>{1});
    CHECK(seqs_of(page(0, 1000).at("messages")) == iota_seqs(1, 100));
    auto last = page(155, 10);
    CHECK(last.at("messages").empty());
    CHECK(last.at("has_more") == false);
    CHECK(page(100000, 10).at("messages").empty());
  }
}

TEST_CASE("a fenced stale writer steps down and a retry succeeds after a reload",
          "[actors][channel][fencing]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  fx.inject(a, send_frame(ch, "one", "f1"));
  fx.run();
  REQUIRE(seqs_of(a.sink->of_type("message.ack")) == std::vector<uint64_t>{1});
  a.sink->take_new();
  b.sink->take_new();

  // Another writer of this channel (a second owner after a split brain) stores seq 2.
  db.append(foreign_rows(ch, 2, 2, u2, "foreign-"));

  fx.inject(a, send_frame(ch, "two", "f2"));
  fx.run();
  auto frames = a.sink->take_new();
  auto errors = filter(frames, "error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].at("code") == "unavailable");
  CHECK(errors[0].at("ref_id") == "f2");
  CHECK(errors[0].at("channel_id") == ch.str());
  CHECK(filter(frames, "message.ack").empty());
  CHECK(filter(frames, "message.new").empty());
  CHECK(b.sink->take_new().empty());

  // The retry reaches a fresh channel actor that reloaded the latest seq from storage.
  fx.inject(a, send_frame(ch, "two", "f2"));
  fx.run();
  frames = a.sink->take_new();
  CHECK(filter(frames, "error").empty());
  auto acks = filter(frames, "message.ack");
  REQUIRE(acks.size() == 1);
  CHECK(acks[0].at("channel_seq") == 3);
  CHECK(fx.spawned_channels().size() == 2);

  auto stored = db.messages(ws, ch);
  REQUIRE(stored.size() == 3);
  CHECK(stored[1].client_msg_id == "foreign-2");
  CHECK(stored[2].client_msg_id == "f2");
  CHECK(stored[2].text == "two");
}

TEST_CASE("after a fenced channel reloads, its online members still receive live messages",
          "[actors][channel][fencing]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  fx.inject(a, send_frame(ch, "one", "f1"));
  fx.run();
  REQUIRE(seqs_of(b.sink->of_type("message.new")) == std::vector<uint64_t>{1});
  db.append(foreign_rows(ch, 2, 2, u2, "foreign-"));
  fx.inject(a, send_frame(ch, "two", "f2")); // fenced: unavailable, the channel steps down
  fx.run();
  REQUIRE(a.sink->of_type("error").size() == 1);
  a.sink->take_new();
  b.sink->take_new();

  // Neither A nor B reconnected: both are still online members of the channel.
  fx.inject(a, send_frame(ch, "two", "f2"));
  fx.inject(a, send_frame(ch, "three", "f3"));
  fx.run();
  auto frames = a.sink->take_new();
  REQUIRE(seqs_of(filter(frames, "message.ack")) == iota_seqs(3, 4));
  // docs/protocol.md "Rules", fan-out: every online member connection gets message.new, the
  // sender's own included.
  CHECK(seqs_of(filter(frames, "message.new")) == iota_seqs(3, 4));
  CHECK(seqs_of(filter(b.sink->take_new(), "message.new")) == iota_seqs(3, 4));
  // And presence still reaches them.
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  CHECK(filter(a.sink->take_new(), "presence.update").size() == 1);
}

TEST_CASE("a connection whose cached channel actor stepped down reaches the new one without an "
          "error", "[actors][channel][fencing]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  // Both connections have sent once: each keeps the channel actor's handle.
  fx.inject(a, send_frame(ch, "one", "f1"));
  fx.inject(b, send_frame(ch, "two", "f2"));
  fx.run();
  REQUIRE(seqs_of(b.sink->of_type("message.ack")) == std::vector<uint64_t>{2});
  db.append(foreign_rows(ch, 3, 3, u1, "foreign-"));
  fx.inject(a, send_frame(ch, "three", "f3")); // fenced: the channel actor steps down
  fx.run();
  REQUIRE(a.sink->of_type("error").size() == 1);
  REQUIRE(fx.spawned_channels().size() == 1);
  b.sink->take_new();

  // B's handle names the actor that is gone: B's send still gets its ack, from a new actor.
  fx.inject(b, send_frame(ch, "four", "f4"));
  fx.run();
  auto frames = b.sink->take_new();
  CHECK(filter(frames, "error").empty());
  REQUIRE(seqs_of(filter(frames, "message.ack")) == std::vector<uint64_t>{4});
  CHECK(fx.spawned_channels().size() == 2);
}

} // namespace parley::test

namespace parley::test {

TEST_CASE("the same client_msg_id sent to two channels at once is stored once and both sends "
          "get the same ack",
          "[actors][channel][dedup]") {
  test_db db;
  auto c1 = db.create_channel(ws, "one", {u1, u2});
  auto c2 = db.create_channel(ws, "two", {u1, u2});
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  a.sink->take_new();
  b.sink->take_new();
  fx.inject(a, send_frame(c1, "to one", "same"));
  fx.inject(a, send_frame(c2, "to two", "same"));
  fx.run();
  auto frames = a.sink->take_new();
  CHECK(filter(frames, "error").empty());
  auto acks = filter(frames, "message.ack");
  REQUIRE(acks.size() == 2);
  CHECK(acks[0] == acks[1]); // the dedup key is (workspace, user, client_msg_id)
  auto stored_one = db.messages(ws, c1);
  auto stored_two = db.messages(ws, c2);
  CHECK(stored_one.size() + stored_two.size() == 1);
  // Delivered once, in the channel the ack names.
  auto news = filter(b.sink->take_new(), "message.new");
  REQUIRE(news.size() == 1);
  CHECK(news[0].at("channel_id") == acks[0].at("channel_id"));
}

TEST_CASE("a channel above the large-channel threshold sends channel.cursor at most every "
          "interval instead of message.new",
          "[actors][channel][cursor]") {
  test_db db;
  auto ch = db.create_channel(ws, "big", {u1, u2, u3});
  auto limits = test_limits();
  limits.large_channel_members = 2; // 3 members: read-time fan-out
  actor_fixture fx{db, limits};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  a.sink->take_new();
  b.sink->take_new();
  for (int i = 1; i <= 5; ++i)
    fx.inject(a, send_frame(ch, "m", "c" + std::to_string(i)));
  fx.run();
  auto frames = a.sink->take_new();
  CHECK(seqs_of(filter(frames, "message.ack")) == iota_seqs(1, 5));
  CHECK(filter(frames, "message.new").empty());
  auto first = filter(b.sink->take_new(), "channel.cursor");
  REQUIRE(first.size() == 1);
  CHECK(first[0].at("latest_seq") == 1);
  // The rest is coalesced into one cursor when the interval has passed.
  fx.advance(limits.cursor_interval - std::chrono::milliseconds(1));
  CHECK(b.sink->take_new().empty());
  fx.advance(std::chrono::milliseconds(1));
  auto frames_b = b.sink->take_new();
  REQUIRE(frames_b.size() == 1);
  CHECK(frames_b[0].at("type") == "channel.cursor");
  CHECK(frames_b[0].at("latest_seq") == 5);
  CHECK(filter(a.sink->take_new(), "channel.cursor").size() == 1);
  // Backfill is how clients read a large channel.
  fx.inject(b, backfill_frame(ch, 0, 100));
  fx.run();
  auto page = b.sink->take_new();
  REQUIRE(page.size() == 1);
  CHECK(seqs_of(page[0].at("messages")) == iota_seqs(1, 5));
}

} // namespace parley::test
