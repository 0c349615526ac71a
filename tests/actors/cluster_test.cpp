// Deterministic simulation of several nodes (issue 3 "Tests"; docs/architecture.md "Cluster"):
// ordering across nodes, one delivery per node, owner loss and re-homing, unavailable while the
// owner is unreachable, and two would-be owners fenced by the storage primary key. Every test ends
// with a direct read of the shared SQLite file (cluster_fixture::verify_storage).

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/support/cluster_fixture.hpp"

namespace parley::test {
namespace {

const workspace_id ws{1};
const user_id u1{1}, u2{2}, u3{3}, u4{4}, u5{5}, u6{6};

node_limits cluster_limits() {
  auto limits = test_limits();
  limits.user_burst = 1000; // these tests are about order and ownership, not rate limits
  return limits;
}

std::vector<std::string> without(std::vector<std::string> names, const std::string& name) {
  names.erase(std::remove(names.begin(), names.end(), name), names.end());
  return names;
}

/// The seq of the single ack `c` received for `cmid` (REQUIREs exactly one).
uint64_t acked_seq(const sim_client& c, const std::string& cmid) {
  auto acks = acks_for(c.sink->frames(), cmid);
  INFO("client_msg_id " << cmid);
  REQUIRE(acks.size() == 1);
  return acks[0].at("channel_seq").get<uint64_t>();
}

/// Highest seq stored for `ch`.
uint64_t max_stored(test_db& db, channel_id ch) {
  auto rows = db.messages(ws, ch);
  return rows.empty() ? 0 : rows.back().seq;
}

/// Number of stored rows of `ch` with `cmid`.
size_t stored_count(test_db& db, channel_id ch, const std::string& cmid) {
  auto rows = db.messages(ws, ch);
  return static_cast<size_t>(std::count_if(rows.begin(), rows.end(), [&](auto& m) {
    return m.client_msg_id == cmid;
  }));
}

/// Resends every cmid of `sent` that got an error but no ack yet (the client's retry rule:
/// same client_msg_id), until each is acked; REQUIREs that to take at most `rounds` rounds.
void retry_until_acked(cluster_fixture& fx, const sim_client& c, channel_id ch,
                       const std::vector<std::string>& sent, int rounds = 5) {
  for (int round = 0; round <= rounds; ++round) {
    auto frames = c.sink->frames();
    std::vector<std::string> missing;
    for (auto& cmid : sent)
      if (acks_for(frames, cmid).empty()) {
        INFO("client_msg_id " << cmid);
        // Without an ack the client saw an error for it: always `unavailable`.
        auto errors = errors_for(frames, cmid);
        REQUIRE(!errors.empty());
        for (auto& e : errors)
          CHECK(e.at("code") == "unavailable");
        missing.push_back(cmid);
      }
    if (missing.empty())
      return;
    if (round == rounds)
      break;
    for (auto& cmid : missing)
      fx.inject(c, send_frame(ch, "text of " + cmid, cmid));
    fx.run();
  }
  FAIL("messages still not acked after " << rounds << " retries");
}

} // namespace

TEST_CASE("clients on three nodes in one channel see one contiguous order and each node with "
          "online members gets exactly one delivery per message",
          "[actors][cluster]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2, u3, u4, u6});
  auto other = db.create_channel(ws, "elsewhere", {u5});
  cluster_fixture fx{db, {"n1", "n2", "n3", "n4"}, cluster_limits()};
  // The owner hosts a member; two other nodes host members (one of them two connections);
  // the fourth node only hosts a user of another channel. u6 is a member but offline.
  auto owner = cluster_fixture::owner_among(ch, fx.names());
  auto rest = without(fx.names(), owner);
  auto x1 = rest[0], x2 = rest[1], empty = rest[2];
  INFO("owner " << owner << ", members on " << x1 << " and " << x2 << ", none on " << empty);

  std::vector<sim_client> senders{fx.join(owner, principal{ws, u1}),
                                  fx.join(x1, principal{ws, u2}),
                                  fx.join(x1, principal{ws, u3}),
                                  fx.join(x2, principal{ws, u4})};
  auto bystander = fx.join(empty, principal{ws, u5});
  REQUIRE(fx.node(owner).channel_actors_of(ch) == 1);
  for (auto& n : rest)
    CHECK(fx.node(n).channel_actors_of(ch) == 0);
  CHECK(fx.node(x1).stubs_of(ch) >= 1);
  CHECK(fx.node(empty).stubs_of(ch) == 0);

  std::map<std::string, uint64_t> received_before;
  std::map<std::string, uint64_t> sent_remote_before;
  for (auto& n : fx.names()) {
    received_before[n] = fx.node(n).actors.env.counters->deliveries_received;
    sent_remote_before[n] = fx.node(n).actors.env.counters->deliveries_sent_remote;
  }
  auto batches_before = fx.node(owner).actors.env.counters->internode_batches_sent.load();
  for (auto& c : senders)
    c.sink->take_new();

  const int rounds = 10;
  auto cmid = [](size_t k, int i) { return "s" + std::to_string(k) + "-" + std::to_string(i); };
  for (int i = 0; i < rounds; ++i)
    for (size_t k = 0; k < senders.size(); ++k)
      fx.inject(senders[k], send_frame(ch, "text " + cmid(k, i), cmid(k, i)));
  fx.run();
  const uint64_t total = rounds * senders.size();

  auto reference = senders[0].sink->of_type("message.new");
  REQUIRE(seqs_of(reference) == iota_seqs(1, total));
  for (size_t k = 0; k < senders.size(); ++k) {
    INFO("client " << k << " on " << senders[k].node);
    auto& sink = *senders[k].sink;
    CHECK(sink.of_type("error").empty());
    // One order, seen identically on every node.
    CHECK(sink.of_type("message.new") == reference);
    auto acks = sink.of_type("message.ack");
    REQUIRE(acks.size() == static_cast<size_t>(rounds));
    uint64_t previous = 0;
    for (int i = 0; i < rounds; ++i) {
      auto& ack = acks[static_cast<size_t>(i)];
      CHECK(ack.at("client_msg_id") == cmid(k, i));
      auto seq = ack.at("channel_seq").get<uint64_t>();
      CHECK(seq > previous);
      previous = seq;
      CHECK(reference.at(seq - 1).at("client_msg_id") == cmid(k, i));
    }
  }
  CHECK(filter(bystander.sink->frames(), "message.new").empty());

  // Fan-out grouped by node: per message ONE delivery to each node with online members.
  auto received = [&](const std::string& n) {
    return fx.node(n).actors.env.counters->deliveries_received - received_before[n];
  };
  auto sent_remote = [&](const std::string& n) {
    return fx.node(n).actors.env.counters->deliveries_sent_remote - sent_remote_before[n];
  };
  CHECK(received(owner) == total);
  CHECK(received(x1) == total); // two connections there, still one delivery per message
  CHECK(received(x2) == total);
  CHECK(received(empty) == 0);
  const uint64_t other_nodes_with_members = 2;
  CHECK(sent_remote(owner) == total * other_nodes_with_members);
  for (auto& n : rest)
    CHECK(sent_remote(n) == 0);
  // They leave the owner through its outboxes, batched: fewer BASP messages than deliveries.
  auto batches = fx.node(owner).actors.env.counters->internode_batches_sent - batches_before;
  INFO(batches << " batches for " << sent_remote(owner) << " deliveries");
  CHECK(batches >= other_nodes_with_members);
  CHECK(batches < sent_remote(owner));
  CHECK(fx.node(owner).actors.env.counters->messages_acked == total);

  CHECK(db.messages(ws, ch).size() == total);
  CHECK(db.messages(ws, other).empty());
  CHECK(fx.verify_storage() == total);
}

TEST_CASE("a send through a non-owner node is forwarded to the owner, which assigns the seq",
          "[actors][cluster]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  cluster_fixture fx{db, {"n1", "n2", "n3"}, cluster_limits()};
  auto owner = cluster_fixture::owner_among(ch, fx.names());
  auto via = without(fx.names(), owner)[0];
  INFO("owner " << owner << ", sender on " << via);

  auto reader = fx.join(owner, principal{ws, u1});
  auto sender = fx.join(via, principal{ws, u2});
  // The non-owner runs a stub, never a channel actor; the owner runs the channel actor.
  CHECK(fx.node(via).stubs_of(ch) == 1);
  CHECK(fx.node(via).channel_actors_of(ch) == 0);
  CHECK(fx.node(owner).channel_actors_of(ch) == 1);
  CHECK(fx.node(owner).stubs_of(ch) == 0);

  for (int i = 1; i <= 3; ++i)
    fx.inject(sender, send_frame(ch, "hop " + std::to_string(i), "f" + std::to_string(i)));
  fx.run();

  auto frames = sender.sink->frames();
  CHECK(filter(frames, "error").empty());
  auto acks = filter(frames, "message.ack");
  REQUIRE(seqs_of(acks) == iota_seqs(1, 3));
  // The ack crossed back through the sender's own gateway ahead of its message.new.
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    auto ack_at = index_of(frames, [&](const json& f) {
      return f.at("type") == "message.ack" && f.at("channel_seq") == seq;
    });
    auto new_at = index_of(frames, [&](const json& f) {
      return f.at("type") == "message.new" && f.at("channel_seq") == seq;
    });
    CHECK(ack_at >= 0);
    CHECK(new_at > ack_at);
  }
  auto delivered = reader.sink->of_type("message.new");
  REQUIRE(seqs_of(delivered) == iota_seqs(1, 3));
  CHECK(delivered[0].at("user_id") == u2.str());
  // The seq came from the owner's channel actor (the single writer), not from the stub.
  CHECK(fx.node(owner).actors.env.counters->messages_acked == 3);
  CHECK(fx.node(via).actors.env.counters->messages_acked == 0);
  CHECK(fx.node(via).channel_actors_of(ch) == 0);
  CHECK(fx.node(via).stubs_of(ch) == 1); // cached: one owner lookup, not one per send
  CHECK(fx.verify_storage() == 3);
}

TEST_CASE("when the owner dies its channel re-homes to a survivor that continues after the "
          "highest acked seq, re-attaches online members and backfills reconnected clients",
          "[actors][cluster]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2, u3});
  cluster_fixture fx{db, {"n1", "n2", "n3"}, cluster_limits()};
  auto owner = cluster_fixture::owner_among(ch, fx.names());
  auto survivors = without(fx.names(), owner);
  auto heir = cluster_fixture::owner_among(ch, survivors);
  auto other = without(survivors, heir)[0];
  INFO("owner " << owner << ", heir " << heir << ", other survivor " << other);

  auto a = fx.join(owner, principal{ws, u1});
  auto b = fx.join(heir, principal{ws, u2});
  auto c = fx.join(other, principal{ws, u3});
  for (int i = 1; i <= 2; ++i)
    for (auto* x : {&a, &b, &c})
      fx.inject(*x, send_frame(ch, "before", x->node + "-" + std::to_string(i)));
  fx.run();
  for (auto* x : {&a, &b, &c}) {
    INFO("client on " << x->node);
    REQUIRE(seqs_of(x->sink->of_type("message.new")) == iota_seqs(1, 6));
    REQUIRE(x->sink->of_type("message.ack").size() == 2);
  }
  const uint64_t a_last_seen = 6;

  // kill -9 of the owner, then the survivors notice (monitors) and re-home.
  fx.kill(owner);
  fx.forget(owner);
  fx.run();
  CHECK(fx.node(heir).channel_actors_of(ch) == 1);
  CHECK(fx.node(other).channel_actors_of(ch) == 0);

  b.sink->take_new();
  c.sink->take_new();
  fx.inject(c, send_frame(ch, "after 1", "c-after-1"));
  fx.run();
  fx.inject(b, send_frame(ch, "after 2", "b-after-2"));
  fx.run();
  // The new owner recovered the high-water seq from storage: no seq is reused.
  CHECK(acked_seq(c, "c-after-1") == 7);
  CHECK(acked_seq(b, "b-after-2") == 8);
  CHECK(fx.node(heir).actors.env.counters->messages_acked == 2);
  // Survivors' online members keep receiving message.new (presence re-attached).
  CHECK(seqs_of(filter(b.sink->take_new(), "message.new")) == std::vector<uint64_t>{7, 8});
  CHECK(seqs_of(filter(c.sink->take_new(), "message.new")) == std::vector<uint64_t>{7, 8});
  CHECK(b.sink->of_type("error").empty());
  CHECK(c.sink->of_type("error").empty());

  // a's node is gone: it reconnects to a survivor and resumes from what it saw.
  auto a2 = fx.join(other, principal{ws, u1}, {{ch, a_last_seen}});
  auto frames = a2.sink->take_new();
  REQUIRE(frames.size() >= 2);
  CHECK(frames[0].at("type") == "hello_ack");
  CHECK(frames[0].at("channels").at(ch.str()) == 8);
  auto pages = filter(frames, "message.backfill");
  REQUIRE(pages.size() == 1);
  CHECK(pages[0].at("after_seq") == a_last_seen);
  CHECK(seqs_of(pages[0].at("messages").get<std::vector<json>>()) == std::vector<uint64_t>{7, 8});
  CHECK(pages[0].at("has_more") == false);
  // And it is live again on its new node.
  fx.inject(b, send_frame(ch, "after 3", "b-after-3"));
  fx.run();
  CHECK(seqs_of(filter(a2.sink->take_new(), "message.new")) == std::vector<uint64_t>{9});

  auto stored = db.messages(ws, ch);
  REQUIRE(stored.size() == 9);
  for (size_t i = 0; i < stored.size(); ++i)
    CHECK(stored[i].seq == i + 1);
  CHECK(fx.verify_storage() == 6 + 3);
}

TEST_CASE("while the owner is unreachable and not yet re-homed a send gets unavailable and its "
          "retry after re-homing is stored exactly once",
          "[actors][cluster]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2, u3});
  cluster_fixture fx{db, {"n1", "n2", "n3"}, cluster_limits()};
  auto owner = cluster_fixture::owner_among(ch, fx.names());
  auto survivors = without(fx.names(), owner);
  auto a = fx.join(owner, principal{ws, u1});
  auto b = fx.join(survivors[0], principal{ws, u2});
  auto c = fx.join(survivors[1], principal{ws, u3});
  fx.inject(a, send_frame(ch, "one", "a1"));
  fx.inject(a, send_frame(ch, "two", "a2"));
  fx.run();
  REQUIRE(acked_seq(a, "a1") == 1);
  REQUIRE(acked_seq(a, "a2") == 2);

  SECTION("the owner died before the send reached it") {
    fx.kill(owner);
    // Placements still list the dead owner: the stub's owner lookup fails.
    fx.inject(b, send_frame(ch, "lost?", "k1"));
    fx.run();
    auto errors = errors_for(b.sink->frames(), "k1");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].at("code") == "unavailable");
    CHECK(acks_for(b.sink->frames(), "k1").empty());
    CHECK(stored_count(db, ch, "k1") == 0);

    fx.forget(owner);
    fx.run();
    fx.inject(b, send_frame(ch, "lost?", "k1"));
    fx.run();
    CHECK(acked_seq(b, "k1") == 3);
    CHECK(stored_count(db, ch, "k1") == 1);
    CHECK(seqs_of(filter(c.sink->frames(), "message.new")) == iota_seqs(1, 3));
  }

  SECTION("the owner died after storing the message but before acking it") {
    fx.inject(b, send_frame(ch, "stored, ack lost", "k2"));
    // Step until the owner's channel handed the message to its group commit; then the node
    // dies, its group commit committing that last batch before it goes: durable, never acked.
    auto seq_actor = fx.node(owner).actors.group_commit;
    int steps = 0;
    while (!fx.scheduled(seq_actor)) {
      REQUIRE(fx.sched.try_run_once());
      REQUIRE(++steps < 1000);
    }
    CHECK(stored_count(db, ch, "k2") == 0);
    fx.kill(owner, true);
    REQUIRE(stored_count(db, ch, "k2") == 1);
    CHECK(acks_for(b.sink->frames(), "k2").empty());
    // The request dies with the owner: the client hears `unavailable` at the request timeout.
    fx.advance(fx.node(survivors[0]).actors.env.limits.request_timeout);
    auto errors = errors_for(b.sink->frames(), "k2");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].at("code") == "unavailable");

    fx.forget(owner);
    fx.run();
    fx.inject(b, send_frame(ch, "stored, ack lost", "k2"));
    fx.run();
    // The dedup rule answers the retry with the original seq: stored exactly once.
    CHECK(acked_seq(b, "k2") == 3);
    CHECK(stored_count(db, ch, "k2") == 1);
    fx.inject(c, send_frame(ch, "next", "c1"));
    fx.run();
    CHECK(acked_seq(c, "c1") == 4);
  }

  CHECK(fx.verify_storage() >= 3);
}

TEST_CASE("in a partition two would-be owners both accept sends, the stale writer is fenced "
          "with unavailable, every acked message is stored once with its seq, and after the "
          "heal sends continue after the highest seq",
          "[actors][cluster][partition]") {
  test_db db;
  auto ch = db.create_channel(ws, "general", {u1, u2});
  cluster_fixture fx{db, {"n1", "n2"}, cluster_limits()};
  auto owner = cluster_fixture::owner_among(ch, fx.names());
  auto rival = without(fx.names(), owner)[0];
  INFO("owner " << owner << ", rival " << rival);
  auto a = fx.join(owner, principal{ws, u1});
  auto b = fx.join(rival, principal{ws, u2});
  fx.inject(a, send_frame(ch, "before the partition", "a0"));
  fx.run();
  REQUIRE(acked_seq(a, "a0") == 1);
  REQUIRE(seqs_of(b.sink->of_type("message.new")) == std::vector<uint64_t>{1});

  // Each side sees only itself: both believe they own the channel.
  fx.partition({{owner}, {rival}});
  fx.run();
  REQUIRE(fx.node(owner).channel_actors_of(ch) == 1);
  REQUIRE(fx.node(rival).channel_actors_of(ch) == 1); // activated by presence re-attaching

  // Both accept sends. The owner writes seq 2 first ...
  fx.inject(a, send_frame(ch, "a1", "a1"));
  fx.run();
  CHECK(acked_seq(a, "a1") == 2);
  // ... so the rival, which loaded seq 1, is fenced on seq 2: unavailable, not a wrong ack.
  fx.inject(b, send_frame(ch, "b1", "b1"));
  fx.run();
  {
    auto frames = b.sink->frames();
    CHECK(acks_for(frames, "b1").empty());
    auto errors = errors_for(frames, "b1");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].at("code") == "unavailable");
  }
  // The retry reaches a re-activated rival writer that reloaded the high-water seq.
  fx.inject(b, send_frame(ch, "b1", "b1"));
  fx.run();
  CHECK(acked_seq(b, "b1") == 3);

  // Now the owner is the stale one: a burst is fenced, the retries go through.
  std::vector<std::string> a_sent{"a1"}, b_sent{"b1"};
  for (auto cmid : {"a2", "a3"}) {
    fx.inject(a, send_frame(ch, cmid, cmid));
    a_sent.push_back(cmid);
  }
  fx.run();
  CHECK(acks_for(a.sink->frames(), "a2").empty());
  retry_until_acked(fx, a, ch, a_sent);

  // Both sides at once, several rounds: whoever is stale is fenced, retries succeed.
  for (int i = 4; i <= 8; ++i) {
    auto ac = "a" + std::to_string(i), bc = "b" + std::to_string(i);
    fx.inject(a, send_frame(ch, ac, ac));
    fx.inject(b, send_frame(ch, bc, bc));
    a_sent.push_back(ac);
    b_sent.push_back(bc);
    fx.run();
  }
  retry_until_acked(fx, a, ch, a_sent);
  retry_until_acked(fx, b, ch, b_sent);

  // Nothing acked is lost; no seq is shared; each ack names its stored seq.
  fx.verify_storage();
  std::set<uint64_t> acked;
  for (auto* x : {&a, &b})
    for (auto& ack : x->sink->of_type("message.ack"))
      acked.insert(ack.at("channel_seq").get<uint64_t>());
  auto stored = db.messages(ws, ch);
  CHECK(acked.size() == a_sent.size() + b_sent.size() + 1);
  CHECK(stored.size() == acked.size()); // every stored message was eventually acked
  const auto high = max_stored(db, ch);

  // The partition heals: both views agree again, the rendezvous owner is the owner again.
  fx.heal();
  fx.run();
  a.sink->take_new();
  b.sink->take_new();

  SECTION("a send after the heal continues after the highest stored seq") {
    // The healed owner may still be the stale writer of the partition: its first append is
    // fenced (unavailable) and the client's retry with the same client_msg_id goes through.
    fx.inject(b, send_frame(ch, "healed", "b-healed"));
    fx.run();
    retry_until_acked(fx, b, ch, {"b-healed"}, 1);
    CHECK(errors_for(b.sink->frames(), "b-healed").size() <= 1);
    CHECK(acked_seq(b, "b-healed") == high + 1);
    fx.inject(a, send_frame(ch, "healed too", "a-healed"));
    fx.run();
    CHECK(acked_seq(a, "a-healed") == high + 2);
    // Both sides are one channel again: every member sees both messages live.
    CHECK(seqs_of(filter(a.sink->take_new(), "message.new"))
          == std::vector<uint64_t>{high + 1, high + 2});
    CHECK(seqs_of(filter(b.sink->take_new(), "message.new"))
          == std::vector<uint64_t>{high + 1, high + 2});
  }

  SECTION("after the heal the owner serves what the other side acked during the partition") {
    // A client of the owner's side reconnects knowing only seq 1: hello_ack reports the
    // highest stored seq and the backfill holds every message acked on either side.
    auto a2 = fx.join(owner, principal{ws, u1}, {{ch, 1}});
    auto frames = a2.sink->take_new();
    REQUIRE(!frames.empty());
    CHECK(frames[0].at("type") == "hello_ack");
    CHECK(frames[0].at("channels").at(ch.str()) == high);
    auto pages = filter(frames, "message.backfill");
    REQUIRE(pages.size() == 1);
    CHECK(seqs_of(pages[0].at("messages").get<std::vector<json>>()) == iota_seqs(2, high));
    // An explicit backfill after what the owner's side saw live is not empty either.
    auto last_seen = seqs_of(filter(a.sink->frames(), "message.new")).back();
    fx.inject(a2, backfill_frame(ch, last_seen, 100));
    fx.run();
    pages = filter(a2.sink->take_new(), "message.backfill");
    REQUIRE(pages.size() == 1);
    CHECK(seqs_of(pages[0].at("messages").get<std::vector<json>>())
          == iota_seqs(last_seen + 1, high));
  }

  CHECK(fx.verify_storage() >= acked.size());
}

} // namespace parley::test

namespace parley::test {
namespace {

/// Channels shared by `members`, created until their owners among `nodes` cover every node
/// (so the test crosses every owner/connection arrangement); all of them are returned.
std::vector<channel_id> channels_owned_by_each(test_db& db, const std::vector<user_id>& members,
                                               const std::vector<std::string>& nodes) {
  std::vector<channel_id> result;
  std::set<std::string> owners;
  for (int i = 0; owners.size() < nodes.size() && i < 64; ++i) {
    result.push_back(db.create_channel(ws, "shared-" + std::to_string(i), members));
    owners.insert(cluster_fixture::owner_among(result.back(), nodes));
  }
  REQUIRE(owners.size() == nodes.size());
  return result;
}

/// The presence.update frames about `user` in `frames`, as channel -> statuses in order.
std::map<std::string, std::vector<std::string>> updates_about(const std::vector<json>& frames,
                                                              user_id user) {
  std::map<std::string, std::vector<std::string>> result;
  for (auto& f : filter(frames, "presence.update"))
    if (f.at("user_id") == user.str())
      result[f.at("channel_id").get<std::string>()].push_back(f.at("status"));
  return result;
}

/// Exactly one update with `status` in each of `channels`.
std::map<std::string, std::vector<std::string>> one_each(const std::vector<channel_id>& channels,
                                                         const std::string& status) {
  std::map<std::string, std::vector<std::string>> result;
  for (auto ch : channels)
    result[ch.str()] = {status};
  return result;
}

/// `user`'s status in `ch` as `asker` gets it from presence.get ("offline" if not listed).
std::string status_seen(cluster_fixture& fx, const sim_client& asker, channel_id ch,
                        user_id user) {
  asker.sink->take_new();
  fx.inject(asker, json{{"type", "presence.get"}, {"channel_id", ch.str()}});
  fx.run();
  auto states = filter(asker.sink->take_new(), "presence.state");
  REQUIRE(states.size() == 1);
  for (auto& u : states[0].at("users"))
    if (u.at("user_id") == user.str())
      return u.at("status");
  return "offline";
}

} // namespace

TEST_CASE("presence is per user across nodes: presence.set on any node applies to the user and "
          "each shared channel gets exactly one update per transition",
          "[actors][cluster][presence]") {
  test_db db;
  const std::vector<std::string> nodes{"n1", "n2", "n3"};
  auto shared = channels_owned_by_each(db, {u1, u2}, nodes);
  cluster_fixture fx{db, nodes, cluster_limits()};
  // A on n1; B on n2 and n3 (the report), later on n1 too.
  auto a = fx.join("n1", principal{ws, u1});
  auto b2 = fx.join("n2", principal{ws, u2});
  auto b3 = fx.join("n3", principal{ws, u2});
  a.sink->take_new();
  b3.sink->take_new();

  // Away from one node: A and B's other connection see it once per channel.
  fx.inject(b2, presence_set_frame("away"));
  fx.run();
  CHECK(updates_about(a.sink->take_new(), u2) == one_each(shared, "away"));
  CHECK(updates_about(b3.sink->take_new(), u2) == one_each(shared, "away"));

  // Online from the other node, which had never heard of away itself.
  fx.inject(b3, presence_set_frame("online"));
  fx.run();
  CHECK(updates_about(a.sink->take_new(), u2) == one_each(shared, "online"));

  // Away again from n3; setting it again from n2 is no transition.
  fx.inject(b3, presence_set_frame("away"));
  fx.run();
  CHECK(updates_about(a.sink->take_new(), u2) == one_each(shared, "away"));
  fx.inject(b2, presence_set_frame("away"));
  fx.run();
  CHECK(updates_about(a.sink->take_new(), u2).empty());

  // A new connection on a third node does not reset the user's away.
  auto b1 = fx.join("n1", principal{ws, u2});
  CHECK(updates_about(a.sink->take_new(), u2).empty());
  for (auto ch : shared)
    CHECK(status_seen(fx, a, ch, u2) == "away");

  // Offline only when the last connection on any node closes.
  fx.socket_closed(b3);
  fx.socket_closed(b1);
  CHECK(updates_about(a.sink->take_new(), u2).empty());
  for (auto ch : shared)
    CHECK(status_seen(fx, a, ch, u2) == "away");
  fx.socket_closed(b2);
  CHECK(updates_about(a.sink->take_new(), u2) == one_each(shared, "offline"));
  for (auto ch : shared)
    CHECK(status_seen(fx, a, ch, u2) == "offline");
  CHECK(a.sink->of_type("error").empty());
}

TEST_CASE("a user's away survives the node that set it: a re-homed channel hears it from the "
          "user's other node",
          "[actors][cluster][presence]") {
  test_db db;
  const std::vector<std::string> nodes{"n1", "n2", "n3", "n4"};
  // The channel's owner hosts nobody, so killing it takes no connection with it.
  channel_id ch;
  for (int i = 0; !ch.value; ++i) {
    auto c = db.create_channel(ws, "shared-" + std::to_string(i), {u1, u2, u3});
    if (cluster_fixture::owner_among(c, nodes) == "n4")
      ch = c;
  }
  cluster_fixture fx{db, nodes, cluster_limits()};
  auto a = fx.join("n1", principal{ws, u1});
  // B: connected on n2 and n3, sets away on n2 (n3 hears it from n2's presence).
  auto b2 = fx.join("n2", principal{ws, u2});
  auto b3 = fx.join("n3", principal{ws, u2});
  fx.inject(b2, presence_set_frame("away"));
  fx.run();
  // C: sets away on n2, connects on n3 afterwards (n3 hears it from the channel).
  auto c2 = fx.join("n2", principal{ws, u3});
  fx.inject(c2, presence_set_frame("away"));
  fx.run();
  auto c3 = fx.join("n3", principal{ws, u3});
  // Both leave n2, the node that set their away; then the channel's owner dies.
  fx.socket_closed(b2);
  fx.socket_closed(c2);
  CHECK(status_seen(fx, a, ch, u2) == "away");
  CHECK(status_seen(fx, a, ch, u3) == "away");
  fx.kill("n4");
  fx.forget("n4");
  fx.run();
  REQUIRE(fx.node(cluster_fixture::owner_among(ch, {"n1", "n2", "n3"})).channel_actors_of(ch) == 1);
  CHECK(status_seen(fx, a, ch, u2) == "away");
  CHECK(status_seen(fx, a, ch, u3) == "away");
  // And the flag still changes from the surviving node.
  fx.inject(b3, presence_set_frame("online"));
  fx.inject(c3, presence_set_frame("online"));
  fx.run();
  CHECK(status_seen(fx, a, ch, u2) == "online");
  CHECK(status_seen(fx, a, ch, u3) == "online");
}

} // namespace parley::test
