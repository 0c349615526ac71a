#include "tests/support/cluster_fixture.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <caf/system_messages.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <sqlite3.h>

#include "actors/cluster.hpp"
#include "actors/connection.hpp"
#include "actors/node_actors.hpp"
#include "protocol/clock.hpp"
#include "protocol/rendezvous.hpp"

namespace parley::test {

namespace {

} // namespace

size_t sim_node::channel_actors_of(channel_id ch) const {
  return static_cast<size_t>(std::count_if(channel_actors.begin(), channel_actors.end(),
                                           [&](auto& x) { return x.first == ch; }));
}

size_t sim_node::stubs_of(channel_id ch) const {
  return static_cast<size_t>(
    std::count_if(stubs.begin(), stubs.end(), [&](auto& x) { return x.first == ch; }));
}

cluster_fixture::cluster_fixture(test_db& db, std::vector<std::string> names, node_limits limits)
  : sys(cfg),
    sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
    db_(db),
    limits_(limits) {
  sys.await_actors_before_shutdown(false);
  sched.clock().current_time += std::chrono::hours(1);
  for (auto& name : names) {
    auto n = std::make_unique<sim_node>();
    n->name = name;
    n->writer = db.store();
    n->reader = db.store();
    auto* raw = n.get();
    n->actors = spawn_node_actors(sys, node_env{name, limits},
                                  node_storage{n->writer, {{n->reader, n->reader}}, {}, {}, false},
                      [raw](channel_id id, const channel_actor& hdl, bool owner) {
                        (owner ? raw->channel_actors : raw->stubs).emplace_back(id, hdl);
                      });
    // The real cluster actor without peers to dial: BASP is replaced by handing each node
    // the other nodes' actors directly, and it answers the owner lookups of stubs.
    n->cluster = sys.spawn(cluster, n->actors.for_cluster(), std::vector<cluster_member>{});
    nodes_.push_back(std::move(n));
  }
  // Every node sees every other one from the start (the cluster has formed).
  for (auto& n : nodes_)
    for (auto& p : nodes_)
      if (p != n)
        n->actors.nodes->set_peer(placement::peer{p->name, p->cluster, p->actors.gateway, p->actors.presence});
  run();
}

cluster_fixture::~cluster_fixture() {
  auto stop = [](const auto& hdl) {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
  };
  for (auto& n : nodes_) {
    for (auto& c : n->connections)
      stop(c);
    for (auto& [ch, hdl] : n->channel_actors)
      stop(hdl);
    for (auto& [ch, hdl] : n->stubs)
      stop(hdl);
    stop(n->cluster);
    for (auto& name : names())
      n->actors.nodes->remove_peer(name);
    stop_node_actors(n->actors);
    n->cluster = nullptr;
  }
  sched.run();
  for (auto& n : nodes_) {
    n->connections.clear();
    n->channel_actors.clear();
    n->stubs.clear();
  }
  clients_.clear();
}

size_t cluster_fixture::run() {
  return sched.run();
}

void cluster_fixture::advance(caf::timespan d) {
  sched.advance_time(d);
  run();
}

sim_node& cluster_fixture::node(const std::string& name) {
  for (auto& n : nodes_)
    if (n->name == name)
      return *n;
  FAIL("no simulated node " << name);
  throw std::logic_error("unreachable");
}

std::vector<std::string> cluster_fixture::names() const {
  std::vector<std::string> result;
  for (auto& n : nodes_)
    result.push_back(n->name);
  return result;
}

std::string cluster_fixture::owner_among(channel_id ch, std::vector<std::string> among) {
  std::sort(among.begin(), among.end());
  return rendezvous_owner(ch, among);
}

sim_client cluster_fixture::connect(const std::string& name, principal who,
                                    std::shared_ptr<recording_sink> sink) {
  auto& n = node(name);
  REQUIRE(n.alive);
  if (!sink)
    sink = std::make_shared<recording_sink>();
  sim_client c;
  c.node = name;
  c.who = who;
  c.conn_id = next_conn_++;
  c.sink = sink;
  auto exp_s = now_us() / 1'000'000 + 3600;
  c.conn = sys.spawn(connection, n.actors.for_connections, c.conn_id, who, exp_s, sink_ptr{sink});
  n.connections.push_back(c.conn);
  clients_.push_back(c);
  run();
  return c;
}

void cluster_fixture::inject(const sim_client& c, const json& frame) {
  caf::anon_send(c.conn, frame_atom::value, frame.dump());
}

void cluster_fixture::hello(const sim_client& c,
                            const std::map<channel_id, uint64_t>& last_seq_map) {
  json map = json::object();
  for (auto& [ch, seq] : last_seq_map)
    map[ch.str()] = seq;
  inject(c, json{{"type", "hello"}, {"last_seq_map", map}});
  run();
}

sim_client cluster_fixture::join(const std::string& name, principal who,
                                 const std::map<channel_id, uint64_t>& last_seq_map) {
  auto c = connect(name, who);
  hello(c, last_seq_map);
  return c;
}

void cluster_fixture::socket_closed(const sim_client& c) {
  caf::anon_send(c.conn, closed_atom::value);
  run();
}

void cluster_fixture::kill(const std::string& name, bool commit_last) {
  auto& n = node(name);
  auto stop = [](const auto& hdl) {
    if (hdl)
      caf::anon_send_exit(hdl, caf::exit_reason::kill);
  };
  for (auto& c : n.connections)
    stop(c);
  for (auto& [ch, hdl] : n.channel_actors)
    stop(hdl);
  for (auto& [ch, hdl] : n.stubs)
    stop(hdl);
  auto& ctx = n.actors;
  stop(ctx.gateway);
  stop(ctx.presence);
  stop(ctx.store);
  stop(n.cluster);
  if (commit_last)
    run();
  stop(ctx.group_commit);
  n.alive = false;
  run();
}

bool cluster_fixture::scheduled(caf::abstract_actor* hdl) const {
  auto* ptr = dynamic_cast<caf::resumable*>(hdl);
  return std::find(sched.jobs.begin(), sched.jobs.end(), ptr) != sched.jobs.end();
}

void cluster_fixture::membership_changed(sim_node& n, bool peer_added) {
  // actors/cluster.cpp membership_changed.
  n.actors.channels->reassign(peer_added);
  caf::anon_send(n.actors.presence, rehome_atom::value);
}

void cluster_fixture::forget(const std::string& dead) {
  for (auto& n : nodes_) {
    if (!n->alive || n->name == dead)
      continue;
    n->actors.nodes->remove_peer(dead);
    membership_changed(*n, false);
  }
}

void cluster_fixture::set_view(const std::string& name, const std::vector<std::string>& peers) {
  auto& n = node(name);
  auto before = n.actors.nodes->live();
  for (auto& p : nodes_) {
    if (p.get() == &n)
      continue;
    if (std::find(peers.begin(), peers.end(), p->name) != peers.end())
      n.actors.nodes->set_peer(placement::peer{p->name, p->cluster, p->actors.gateway, p->actors.presence});
    else
      n.actors.nodes->remove_peer(p->name);
  }
  bool added = false;
  for (auto& name : n.actors.nodes->live())
    added = added || std::find(before.begin(), before.end(), name) == before.end();
  membership_changed(n, added);
}

void cluster_fixture::partition(const std::vector<std::vector<std::string>>& groups) {
  for (auto& group : groups) {
    for (auto& name : group) {
      auto& n = node(name);
      if (!n.alive)
        continue;
      std::vector<std::string> peers;
      for (auto& p : group)
        if (p != name && node(p).alive)
          peers.push_back(p);
      set_view(name, peers);
      // BASP reports the proxies of unreachable nodes down: channel actors forget the
      // gateways on the other side (they monitor every gateway with online members).
      for (auto& other : nodes_) {
        if (std::find(group.begin(), group.end(), other->name) != group.end())
          continue;
        // A down message is a system message every actor takes: sent through an untyped
        // handle because it is not part of the channel's typed interface.
        for (auto& [ch, hdl] : n.channel_actors)
          caf::anon_send(caf::actor_cast<caf::actor>(hdl),
                         caf::down_msg{other->actors.gateway.address(),
                                       caf::make_error(caf::exit_reason::remote_link_unreachable)});
      }
    }
  }
}

void cluster_fixture::heal() {
  std::vector<std::string> live;
  for (auto& n : nodes_)
    if (n->alive)
      live.push_back(n->name);
  for (auto& name : live) {
    std::vector<std::string> peers;
    for (auto& p : live)
      if (p != name)
        peers.push_back(p);
    set_view(name, peers);
  }
}

size_t cluster_fixture::verify_storage() {
  struct row {
    uint64_t workspace, channel, seq, user;
    std::string cmid;
  };
  std::vector<row> rows;
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open_v2(db_.file.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> dbh{raw, sqlite3_close};
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw,
                             "SELECT workspace_id, channel_id, channel_seq, user_id, "
                             "client_msg_id FROM messages",
                             -1, &stmt, nullptr)
          == SQLITE_OK);
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    row r;
    r.workspace = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
    r.channel = static_cast<uint64_t>(sqlite3_column_int64(stmt, 1));
    r.seq = static_cast<uint64_t>(sqlite3_column_int64(stmt, 2));
    r.user = static_cast<uint64_t>(sqlite3_column_int64(stmt, 3));
    auto text = sqlite3_column_text(stmt, 4);
    r.cmid = text ? reinterpret_cast<const char*>(text) : "";
    rows.push_back(std::move(r));
  }
  sqlite3_finalize(stmt);
  REQUIRE(rc == SQLITE_DONE);
  // No two stored messages share a seq; no dedup key is stored twice.
  std::set<std::tuple<uint64_t, uint64_t, uint64_t>> seqs;
  std::map<std::tuple<uint64_t, uint64_t, std::string>, const row*> by_key;
  for (auto& r : rows) {
    INFO("stored row channel " << r.channel << " seq " << r.seq << " cmid " << r.cmid);
    CHECK(seqs.emplace(r.workspace, r.channel, r.seq).second);
    if (!r.cmid.empty())
      CHECK(by_key.emplace(std::make_tuple(r.workspace, r.user, r.cmid), &r).second);
  }
  // Every ack names the stored row with its seq (acked means durable, exactly once).
  size_t checked = 0;
  for (auto& c : clients_) {
    for (auto& ack : c.sink->of_type("message.ack")) {
      auto cmid = ack.at("client_msg_id").get<std::string>();
      INFO("node " << c.node << " user " << c.who.user.str() << " ack " << ack.dump());
      auto i = by_key.find(std::make_tuple(c.who.workspace.value, c.who.user.value, cmid));
      REQUIRE(i != by_key.end());
      CHECK(channel_id{i->second->channel}.str() == ack.at("channel_id").get<std::string>());
      CHECK(i->second->seq == ack.at("channel_seq").get<uint64_t>());
      ++checked;
    }
  }
  return checked;
}

std::vector<json> acks_for(const std::vector<json>& frames, const std::string& client_msg_id) {
  std::vector<json> result;
  for (auto& f : filter(frames, "message.ack"))
    if (f.at("client_msg_id") == client_msg_id)
      result.push_back(f);
  return result;
}

std::vector<json> errors_for(const std::vector<json>& frames, const std::string& client_msg_id) {
  std::vector<json> result;
  for (auto& f : filter(frames, "error"))
    if (f.value("ref_id", json{}) == client_msg_id)
      result.push_back(f);
  return result;
}

} // namespace parley::test
