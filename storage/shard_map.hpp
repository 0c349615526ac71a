#pragma once

#include <cstddef>
#include <map>

#include <caf/expected.hpp>

#include "protocol/ids.hpp"

namespace parley::storage {

/// Maps every workspace to exactly one of N storage shards (docs/architecture.md "Storage"):
/// its messages, members and dedup keys live there and nowhere else.
/// The mapping is a pure function of the workspace id, the shard count and the overrides,
/// identical on every node, build and platform. Invariant: once data is stored it must not
/// change (a moved workspace would lose its history), so growing the shard list needs a
/// migration of the workspaces that move, or overrides pinning them where they are.
///
/// Channel ids (docs/protocol.md "Identifiers") carry their shard in the high bits, so any node
/// finds a channel's shard from its id alone: id = shard << 48 | local, local in 1 ... 2^48-1,
/// shard in 0 ... 2^15-1 (so every id stays within 1 ... 2^63-1). Shard 0's ids are the plain 1, 2,
/// ... of a single-database deployment. Invariant: a shard's index in the configuration never
/// changes (soci_store refuses to open a database holding another index's channel ids).
class shard_map {
public:
  /// Bits of a channel id below the shard index.
  static constexpr unsigned channel_local_bits = 48;

  /// The most shards the channel id space can address.
  static constexpr size_t max_shards = size_t{1} << 15;

  /// The smallest channel id shard `shard` may allocate.
  static channel_id first_channel(size_t shard);

  /// The largest channel id shard `shard` may allocate.
  static channel_id last_channel(size_t shard);

  /// The shard that allocated (and stores) `channel`; may be >= size() for a foreign id.
  static size_t shard_of_channel(channel_id channel);

  /// A map over `shard_count` >= 1 shards; `overrides` pins workspaces to a shard index (a
  /// dedicated enterprise shard) ahead of the hash. Fails with `errc::invalid` for zero
  /// shards or an override beyond the last shard.
  static caf::expected<shard_map> make(size_t shard_count,
                                       std::map<workspace_id, size_t> overrides = {});

  /// Returns the index of the shard holding `workspace`, in [0, size()).
  size_t shard_of(workspace_id workspace) const;

  /// Returns the number of shards.
  size_t size() const { return shard_count_; }

  /// The hashed placement: jump consistent hash (Lamping & Veach, 2014) of the SplitMix64-mixed
  /// id, so growing from N to N+1 shards moves only about 1/(N+1) of the workspaces, all of
  /// them to the new shard.
  static size_t hashed_shard(workspace_id workspace, size_t shard_count);

private:
  shard_map(size_t shard_count, std::map<workspace_id, size_t> overrides);

  size_t shard_count_;
  std::map<workspace_id, size_t> overrides_;
};

} // namespace parley::storage
