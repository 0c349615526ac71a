#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/timespan.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_limits.hpp"
#include "actors/peer_circuits.hpp"
#include "protocol/ids.hpp"
#include "protocol/shared_token_bucket.hpp"
#include "storage/event_export.hpp"
#include "storage/presence_mirror.hpp"

namespace parley {

/// The per-workspace message quotas of a node. A channel actor asks for its workspace's
/// bucket once, at activation (a short mutex); taking from the bucket on the send path is
/// lock-free (protocol/shared_token_bucket.hpp).
class workspace_quota {
public:
  workspace_quota(double rate_per_s, double burst) : rate_(rate_per_s), burst_(burst) {}

  /// The bucket of `workspace`, made on first use and shared by its channels.
  std::shared_ptr<shared_token_bucket> bucket(workspace_id workspace);

private:
  double rate_;
  double burst_;
  std::mutex mtx_;
  std::unordered_map<workspace_id, std::shared_ptr<shared_token_bucket>> buckets_;
};

/// The live nodes of the cluster and the owner of each channel (docs/architecture.md "Cluster"):
/// rendezvous hashing of channel_id over the live nodes. A short mutex, no I/O.
class placement {
public:
  struct peer {
    std::string name;
    cluster_actor node;    // the peer's cluster actor
    gateway_actor gateway; // the peer's node gateway
  };

  explicit placement(std::string self = "local") : self_(std::move(self)) {}

  const std::string& self() const { return self_; }

  /// Names this node (before any traffic).
  void set_self(std::string name) { self_ = std::move(name); }

  /// The owner node of a channel among the live nodes (this node included).
  std::string owner(channel_id channel);

  /// The cluster actor of a live peer, null if it is not live.
  cluster_actor node_of(const std::string& name);

  /// The gateways of the live peers.
  std::vector<gateway_actor> peer_gateways();

  /// The name of the live peer whose gateway is `gateway`, empty if none is.
  std::string name_of(const gateway_actor& gateway);

  /// Names of the live nodes, this one included, sorted.
  std::vector<std::string> live();

  void set_peer(peer p);
  void remove_peer(const std::string& name);

private:
  std::mutex mtx_;
  std::string self_;
  std::vector<peer> peers_;
};

/// Finds the actor of a channel, activating it on first use (docs/architecture.md "Channel"): the
/// channel actor itself on its owner node, elsewhere a local stub forwarding to the owner.
/// A short mutex, no I/O: activation itself is asynchronous inside the actors.
class channel_directory {
public:
  /// Makes the actor for a channel owned by `owner` (this node or a peer).
  using factory = std::function<channel_actor(channel_id, const std::string& owner)>;

  void set_factory(factory f, placement* where);

  /// The channel's actor (or stub), spawned if it is not active.
  channel_actor get(channel_id channel);

  /// Forgets a passivated actor (only if it is still the registered one).
  void forget(channel_id channel, const channel_actor& which);

  /// After a membership change: drops (and stops) every actor whose owner changed, so the
  /// next use goes to the new owner. With `reload_owned` (a peer joined, or a partition
  /// healed) the channels this node keeps are stopped too: the peer may have written to them
  /// meanwhile, so they reload from storage on next use.
  void reassign(bool reload_owned = false);

  /// Number of active channel actors and stubs.
  size_t size();

  /// Forgets every channel actor (shutdown).
  void clear();

private:
  struct entry {
    channel_actor hdl;
    std::string owner;
  };
  std::mutex mtx_;
  factory factory_;
  placement* placement_ = nullptr;
  std::unordered_map<channel_id, entry> actors_;
};

/// Counters shared by the actors of a node (read by /metrics and tests).
struct node_counters {
  std::atomic<uint64_t> messages_acked{0};
  std::atomic<uint64_t> deliveries_received{0}; // message deliveries received by the gateway
  std::atomic<uint64_t> deliveries_sent_remote{0}; // channel -> gateway of another node
  std::atomic<uint64_t> frames_pushed{0};
  std::atomic<uint64_t> rate_limited{0};
  std::atomic<uint64_t> gateway_backlog{0}; // the gateway's mailbox depth at its last delivery
  // Fan-out batches handed to the Asio lanes and not yet pushed to their sockets (with io
  // lanes the gateway rarely queues: a saturated node shows here).
  std::atomic<int64_t> lane_backlog{0};
  std::atomic<uint64_t> cursor_fanouts{0}; // acked messages announced by channel.cursor, not pushed
  std::atomic<uint64_t> redis_errors{0};   // failed Redis connects and batches (mirror)
  std::atomic<uint64_t> kafka_errors{0};   // failed deliveries, log reads, broker errors
  std::atomic<uint64_t> kafka_exported{0}; // messages acknowledged by Kafka
};

/// What the actors of one node share. The name, limits, typed handles, exports and metrics
/// are set once by spawn_node_actors before any traffic and only read afterwards; the
/// directory, placement, quotas and circuits are internally synchronised, and none of them is
/// locked per message on a node's send path (a connection keeps its channel handles, a
/// channel its workspace's lock-free quota bucket).
struct node_context {
  std::string node_name = "local";
  node_limits limits;
  gateway_actor gateway;
  presence_actor presence;
  group_commit_actor group_commit;
  storage_actor store; // a pool of storage workers
  channel_directory channels;
  std::unique_ptr<workspace_quota> quota;
  placement nodes;
  node_counters counters;
  std::shared_ptr<storage::presence_mirror> mirror; // Redis; null unless --redis
  std::shared_ptr<storage::event_export> exporter;  // Kafka; null unless --kafka.brokers
  metrics_ptr metrics = std::make_shared<actor_metrics>(); // read by /metrics
  peer_circuits circuits; // inter-node delivery circuits, one per peer node

  /// The gateways of every live node (one on a single node): membership changes go to all.
  std::vector<gateway_actor> all_gateways() {
    auto result = nodes.peer_gateways();
    result.push_back(gateway);
    return result;
  }
};

using node_ptr = std::shared_ptr<node_context>;

} // namespace parley
