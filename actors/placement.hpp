#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "actors/interfaces.hpp"
#include "protocol/ids.hpp"

namespace parley {

/// The live nodes of the cluster and the owner of each channel (docs/architecture.md "Cluster"):
/// rendezvous hashing of channel_id over the live nodes. A short mutex, no I/O.
class placement {
public:
  struct peer {
    std::string name;
    cluster_actor node;    // the peer's cluster actor
    gateway_actor gateway;   // the peer's node gateway
    presence_actor presence; // the peer's presence (the home of some users)
  };

  explicit placement(std::string self = "local") : self_(std::move(self)) {}

  const std::string& self() const { return self_; }

  /// Names this node (before any traffic).
  void set_self(std::string name) { self_ = std::move(name); }

  /// The owner node of a channel among the live nodes (this node included).
  std::string owner(channel_id channel);

  /// The home node of a user's presence ("W1:U7", docs/architecture.md "Presence"), the same
  /// hashing over the live nodes.
  std::string home_of(const std::string& user_key);

  /// The presence actor of a live peer, null if it is not live (or is this node).
  presence_actor presence_of(const std::string& name);

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

} // namespace parley
