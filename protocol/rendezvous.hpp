#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/ids.hpp"

namespace parley {

/// A stable 64-bit hash (FNV-1a, then a splitmix64 finalizer): the same on every node and build.
uint64_t stable_hash(std::string_view bytes);

/// Rendezvous (highest random weight) hashing: the owner of `channel` among `nodes` is the
/// node with the highest hash of (node, channel). Removing a node moves only its channels.
/// Returns an empty string when `nodes` is empty.
std::string rendezvous_owner(channel_id channel, const std::vector<std::string>& nodes);

/// The same for any key (a user's presence home: "W1:U7").
std::string rendezvous_owner(std::string_view key, const std::vector<std::string>& nodes);

} // namespace parley
