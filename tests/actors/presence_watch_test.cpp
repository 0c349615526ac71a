// Deterministic simulation of presence subscriptions (docs/protocol.md "Presence
// subscriptions"): presence.subscribe answers the statuses now, transitions of watched users are
// pushed without channel_id at most once per user per second (simulated time), the bound per
// connection, unsubscribe; and across nodes, with the watched user's home node killed.

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "protocol/rendezvous.hpp"
#include "tests/support/cluster_fixture.hpp"

namespace parley::test {
namespace {

const workspace_id ws{1};
const user_id u1{1}, u2{2}, u3{3}, u4{4};

json subscribe(const std::vector<user_id>& users, bool on = true) {
  json ids = json::array();
  for (auto u : users)
    ids.push_back(u.str());
  return json{{"type", on ? "presence.subscribe" : "presence.unsubscribe"}, {"user_ids", ids}};
}

/// The statuses of a presence.users frame, by user id.
std::map<std::string, std::string> statuses(const json& users_frame) {
  std::map<std::string, std::string> out;
  for (auto& u : users_frame.at("users"))
    out[u.at("user_id")] = u.at("status");
  return out;
}

/// The subscription updates (presence.update without channel_id) in `frames`, as
/// "U2 away" strings in order.
std::vector<std::string> watched_updates(const std::vector<json>& frames) {
  std::vector<std::string> out;
  for (auto& f : filter(frames, "presence.update"))
    if (!f.contains("channel_id"))
      out.push_back(f.at("user_id").get<std::string>() + " " + f.at("status").get<std::string>());
  return out;
}

} // namespace

TEST_CASE("presence.subscribe answers the statuses now and pushes each watched user's "
          "transitions, at most one per second, to users who share no channel",
          "[actors][presence][watch]") {
  test_db db;
  db.create_channel(ws, "only-u2-u3", {u2, u3}); // u1 shares no channel with them
  actor_fixture fx{db};
  auto a = fx.join(principal{ws, u1});
  auto b = fx.join(principal{ws, u2});
  a.sink->take_new();

  fx.inject(a, subscribe({u2, u3}));
  fx.run();
  auto frames = a.sink->take_new();
  auto answers = filter(frames, "presence.users");
  REQUIRE(answers.size() == 1);
  CHECK(statuses(answers[0]) == std::map<std::string, std::string>{{"U2", "online"},
                                                                   {"U3", "offline"}});
  CHECK(watched_updates(frames).empty());

  // u3 comes online: pushed at once (nothing was pushed for u3 in the last second).
  auto c = fx.join(principal{ws, u3});
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{"U3 online"});

  // u2 goes away and back within the second: the latest wins, and it is what was last
  // pushed, so nothing is pushed at all.
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{"U2 away"});
  fx.inject(b, presence_set_frame("online"));
  fx.run();
  fx.inject(b, presence_set_frame("away"));
  fx.run();
  CHECK(watched_updates(a.sink->take_new()).empty()); // within a second of the last push
  fx.advance(std::chrono::seconds(1));
  CHECK(watched_updates(a.sink->take_new()).empty()); // away again: what A last heard
  fx.inject(b, presence_set_frame("online"));
  fx.run();
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{"U2 online"});

  // Unsubscribed users are no longer pushed; the others still are.
  fx.inject(a, subscribe({u3}, false));
  fx.advance(std::chrono::seconds(2));
  fx.socket_closed(c);
  fx.socket_closed(b);
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{"U2 offline"});
  CHECK(a.sink->of_type("error").empty());
}

TEST_CASE("connections of one node that subscribe to the same user at once get its status in "
          "their answers and no update (nothing changed)",
          "[actors][presence][watch]") {
  test_db db;
  actor_fixture fx{db};
  auto b = fx.join(principal{ws, u2});
  auto a = fx.join(principal{ws, u1});
  auto a2 = fx.join(principal{ws, u4});
  a.sink->take_new();
  a2.sink->take_new();
  fx.inject(a, subscribe({u2, u3}));
  fx.inject(a2, subscribe({u2, u3})); // before the home answered the first
  fx.run();
  for (auto* c : {&a, &a2}) {
    auto frames = c->sink->take_new();
    CHECK(watched_updates(frames).empty());
    auto answers = filter(frames, "presence.users");
    REQUIRE(answers.size() == 1);
    CHECK(statuses(answers[0]) == std::map<std::string, std::string>{{"U2", "online"},
                                                                     {"U3", "offline"}});
  }
  auto c = fx.join(principal{ws, u3});
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{"U3 online"});
  CHECK(watched_updates(a2.sink->take_new()) == std::vector<std::string>{"U3 online"});
  fx.socket_closed(b);
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{"U2 offline"});
}

TEST_CASE("a connection watches at most presence.subscribe-max users; a subscribe over it is "
          "refused whole",
          "[actors][presence][watch]") {
  test_db db;
  auto limits = test_limits();
  limits.presence_subscribe_max = 3;
  actor_fixture fx{db, limits};
  auto a = fx.join(principal{ws, u1});
  a.sink->take_new();
  fx.inject(a, subscribe({u2, u3}));
  fx.inject(a, subscribe({u2, u3, u4})); // u2 and u3 again: 3 in all
  fx.run();
  auto answers = a.sink->of_type("presence.users");
  REQUIRE(answers.size() == 2);
  CHECK(statuses(answers[1]).size() == 3);
  fx.inject(a, subscribe({user_id{5}}));
  fx.run();
  auto errors = a.sink->of_type("error");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].at("code") == "bad_request");
  // Unsubscribing makes room again.
  fx.inject(a, subscribe({u4}, false));
  fx.inject(a, subscribe({user_id{5}}));
  fx.run();
  CHECK(a.sink->of_type("presence.users").size() == 3);
  CHECK(a.sink->of_type("error").size() == 1);
}

TEST_CASE("presence subscriptions span nodes and survive the death of the watched user's home "
          "node",
          "[actors][presence][watch][cluster]") {
  test_db db;
  const std::vector<std::string> nodes{"n1", "n2", "n3", "n4"};
  // A watched user whose presence home is n4, where nobody is connected.
  user_id watched{0};
  for (uint64_t id = 2; !watched.value; ++id)
    if (rendezvous_owner(std::string_view("W1:U" + std::to_string(id)), nodes) == "n4")
      watched = user_id{id};
  INFO("watched user " << watched.str());
  cluster_fixture fx{db, nodes};
  auto a = fx.join("n1", principal{ws, u1});
  auto a2 = fx.join("n3", principal{ws, u1}); // a second watcher, on another node
  fx.inject(a, subscribe({watched}));
  fx.inject(a2, subscribe({watched}));
  fx.run();
  REQUIRE(a.sink->of_type("presence.users").size() == 1);
  CHECK(statuses(a.sink->of_type("presence.users")[0])[watched.str()] == "offline");
  a.sink->take_new();
  a2.sink->take_new();

  // Connected on two nodes: online once; away from one node; closing one is no transition.
  auto b2 = fx.join("n2", principal{ws, watched});
  auto b3 = fx.join("n3", principal{ws, watched});
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{watched.str() + " online"});
  CHECK(watched_updates(a2.sink->take_new()) == std::vector<std::string>{watched.str() + " online"});
  fx.advance(std::chrono::seconds(1));
  fx.inject(b3, presence_set_frame("away"));
  fx.run();
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{watched.str() + " away"});
  CHECK(watched_updates(a2.sink->take_new()) == std::vector<std::string>{watched.str() + " away"});
  fx.advance(std::chrono::seconds(1));
  fx.socket_closed(b3);
  CHECK(watched_updates(a.sink->take_new()).empty());

  // The home dies: the survivors re-home the user's presence and the subscriptions.
  fx.kill("n4");
  fx.forget("n4");
  fx.run();
  fx.advance(std::chrono::seconds(1));
  CHECK(watched_updates(a.sink->take_new()).empty()); // still away, nothing to push
  fx.inject(b2, presence_set_frame("online"));
  fx.run();
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{watched.str() + " online"});
  CHECK(watched_updates(a2.sink->take_new()) == std::vector<std::string>{watched.str() + " online"});
  fx.advance(std::chrono::seconds(1));
  fx.socket_closed(b2);
  CHECK(watched_updates(a.sink->take_new()) == std::vector<std::string>{watched.str() + " offline"});
  CHECK(a.sink->of_type("error").empty());
}

} // namespace parley::test
