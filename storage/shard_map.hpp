#pragma once

#include <cstddef>
#include <map>

#include <caf/expected.hpp>

#include "protocol/ids.hpp"

namespace parley::storage {

/// Maps every workspace to exactly one of N storage shards (DESIGN.md "Storage schema"):
/// its messages, members and dedup keys live there and nowhere else.
/// The mapping is a pure function of the workspace id, the shard count and the overrides,
/// identical on every node, build and platform. Invariant: once data is stored it must not
/// change (a moved workspace would lose its history), so growing the shard list needs a
/// migration of the workspaces that move, or overrides pinning them where they are.
class shard_map {
public:
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
