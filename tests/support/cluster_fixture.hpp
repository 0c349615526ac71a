#pragma once

// Deterministic multi-node simulation (STYLE.md "Tests", issue 3 "Tests"): several Parley
// nodes inside ONE actor system on CAF's test_coordinator, sharing one SQLite file as the
// cluster's shared storage. Each simulated node is wired by spawn_node_actors like parleyd's
// and runs the real cluster actor; BASP is replaced by handing each node the other nodes'
// actors directly.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>

#include "tests/support/actor_fixture.hpp"

namespace parley::test {

/// One simulated node.
struct sim_node {
  std::string name;
  node_actors actors;
  cluster_actor cluster; // answers the owner lookups (locate_atom) of other nodes' stubs
  std::shared_ptr<storage::soci_store> writer;
  std::shared_ptr<storage::soci_store> reader;
  std::vector<std::pair<channel_id, channel_actor>> channel_actors; // spawned as owner
  std::vector<std::pair<channel_id, channel_actor>> stubs;        // spawned as non-owner
  std::vector<connection_actor> connections;
  bool alive = true;

  /// Channel actors this node spawned for `ch` (as owner).
  size_t channel_actors_of(channel_id ch) const;

  /// Stubs this node spawned for `ch`.
  size_t stubs_of(channel_id ch) const;
};

/// A client of the simulation: the client of actor_fixture plus the node it is on.
struct sim_client : client {
  std::string node;
};

/// N nodes in one actor system on the test scheduler, over one SQLite file.
class cluster_fixture {
public:
  cluster_fixture(test_db& db, std::vector<std::string> names,
                  node_limits limits = test_limits());
  ~cluster_fixture();

  cluster_fixture(const cluster_fixture&) = delete;
  cluster_fixture& operator=(const cluster_fixture&) = delete;

  /// Runs every runnable job until the system is idle.
  size_t run();

  /// Moves simulated time forward, fires the due timers, then runs until idle.
  void advance(caf::timespan d);

  /// The simulated node called `name`.
  sim_node& node(const std::string& name);

  /// Names of every node, in creation order.
  std::vector<std::string> names() const;

  /// The rendezvous owner of `ch` among `among` (as placement computes it).
  static std::string owner_among(channel_id ch, std::vector<std::string> among);

  /// Spawns a connection actor for `who` on `node` (as the listener does), then runs.
  sim_client connect(const std::string& node, principal who,
                     std::shared_ptr<recording_sink> sink = nullptr);

  /// Injects one client text frame (does not run).
  void inject(const sim_client& c, const json& frame);

  /// Injects `hello` and runs.
  void hello(const sim_client& c, const std::map<channel_id, uint64_t>& last_seq_map = {});

  /// connect + hello + run.
  sim_client join(const std::string& node, principal who,
                  const std::map<channel_id, uint64_t>& last_seq_map = {});

  /// The socket reports closed, then runs.
  void socket_closed(const sim_client& c);

  /// The node dies (kill -9): every actor of it exits; nobody is told, so the other nodes'
  /// placements still list it until `forget`. Runs. With `commit_last`, the node's
  /// group commit finishes what is in its mailbox before it dies too (a commit that completed as
  /// the process died, whose answers never left the node).
  void kill(const std::string& name, bool commit_last = false);

  /// True if `hdl` has a job waiting on the test scheduler (a message in its mailbox).
  template <class Handle>
  bool scheduled(const Handle& hdl) const {
    return scheduled(caf::actor_cast<caf::abstract_actor*>(hdl));
  }
  bool scheduled(caf::abstract_actor* hdl) const;

  /// What actors/cluster.cpp does when a peer's monitor fires: every live node drops
  /// `dead` from its placement, re-assigns its channels and asks its presence to re-attach.
  /// Does not run.
  void forget(const std::string& dead);

  /// Sets what `name` believes the live peers are (its own placement view), then re-assigns
  /// and re-attaches as actors/cluster.cpp's membership_changed does. Does not run.
  void set_view(const std::string& name, const std::vector<std::string>& peers);

  /// Cuts (partition) or restores the links between groups: each node's view becomes its
  /// group, and every channel actor loses the gateways outside its group as BASP would
  /// report it (a down message for the unreachable proxy). Does not run.
  void partition(const std::vector<std::vector<std::string>>& groups);

  /// Every node sees every live node again. Does not run.
  void heal();

  /// Every client created so far.
  const std::vector<sim_client>& clients() const { return clients_; }

  /// Reads the SQLite file directly (sqlite3, not SOCI) and checks the cluster-wide
  /// invariants: (workspace, channel, seq) unique, (workspace, user, client_msg_id) unique,
  /// and every message.ack any client received names a stored row with that seq.
  /// Returns the number of acks checked.
  size_t verify_storage();

  actor_test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;

private:
  void membership_changed(sim_node& n, bool peer_added);

  test_db& db_;
  node_limits limits_;
  std::vector<std::unique_ptr<sim_node>> nodes_;
  std::vector<sim_client> clients_;
  uint64_t next_conn_ = 1;
};

/// The message.ack frames and error frames for `client_msg_id` among `frames`.
std::vector<json> acks_for(const std::vector<json>& frames, const std::string& client_msg_id);
std::vector<json> errors_for(const std::vector<json>& frames, const std::string& client_msg_id);

} // namespace parley::test
