#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "actors/interfaces.hpp"
#include "actors/placement.hpp"
#include "protocol/ids.hpp"

namespace parley {

/// Finds the actor of a channel, activating it on first use (docs/architecture.md "Channel"): the
/// channel actor itself on its owner node, elsewhere a local stub forwarding to the owner.
/// A short mutex, no I/O: activation itself is asynchronous inside the actors.
class channel_directory {
public:
  /// Makes the actor for a channel owned by `owner` (this node or a peer).
  using factory = std::function<channel_actor(channel_id, const std::string& owner)>;

  void set_factory(factory f, std::shared_ptr<placement> where);

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
  std::shared_ptr<placement> placement_;
  std::unordered_map<channel_id, entry> actors_;
};

} // namespace parley
