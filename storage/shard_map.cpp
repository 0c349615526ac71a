#include "storage/shard_map.hpp"

#include <cstdint>
#include <string>
#include <utility>

#include "storage/errors.hpp"

namespace parley::storage {

namespace {

/// SplitMix64's finalizer: spreads sequential ids over all 64 bits.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

} // namespace

shard_map::shard_map(size_t shard_count, std::map<workspace_id, size_t> overrides)
  : shard_count_(shard_count), overrides_(std::move(overrides)) {
}

caf::expected<shard_map> shard_map::make(size_t shard_count,
                                         std::map<workspace_id, size_t> overrides) {
  if (shard_count == 0)
    return make_error(errc::invalid, "storage needs at least one shard");
  if (shard_count > max_shards)
    return make_error(errc::invalid, "storage supports at most " + std::to_string(max_shards)
                                       + " shards (the channel id space), got "
                                       + std::to_string(shard_count));
  for (auto& [workspace, shard] : overrides)
    if (shard >= shard_count)
      return make_error(errc::invalid, "shard override " + workspace.str() + " -> "
                                         + std::to_string(shard) + " names no shard (have "
                                         + std::to_string(shard_count) + ")");
  return shard_map{shard_count, std::move(overrides)};
}

size_t shard_map::shard_of(workspace_id workspace) const {
  if (auto i = overrides_.find(workspace); i != overrides_.end())
    return i->second;
  return hashed_shard(workspace, shard_count_);
}

channel_id shard_map::first_channel(size_t shard) {
  // Shard 0 starts at 1: ids are 1 ... 2^63-1 (docs/protocol.md "Identifiers").
  return channel_id{(static_cast<uint64_t>(shard) << channel_local_bits) | 1};
}

channel_id shard_map::last_channel(size_t shard) {
  return channel_id{(static_cast<uint64_t>(shard) << channel_local_bits)
                    | ((uint64_t{1} << channel_local_bits) - 1)};
}

size_t shard_map::shard_of_channel(channel_id channel) {
  return static_cast<size_t>(channel.value >> channel_local_bits);
}

size_t shard_map::hashed_shard(workspace_id workspace, size_t shard_count) {
  // Jump consistent hash, verbatim from the paper; the double arithmetic is exact IEEE 754
  // and gives the same result everywhere.
  uint64_t key = mix(workspace.value);
  int64_t b = -1;
  int64_t j = 0;
  while (j < static_cast<int64_t>(shard_count)) {
    b = j;
    key = key * 2862933555777866503ULL + 1;
    j = static_cast<int64_t>(static_cast<double>(b + 1)
                             * (static_cast<double>(int64_t{1} << 31)
                                / static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<size_t>(b);
}

} // namespace parley::storage
