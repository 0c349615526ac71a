#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

/// Who watches whom in the presence scenario (docs/protocol.md "Presence subscriptions"):
/// watchers spread evenly over the members, each subscribed to `watch` other members picked
/// pseudo-randomly with a fixed seed over all of them, so every run of the same size watches
/// the same members.
struct watch_plan {
  std::vector<size_t> watchers;              // member indices, ascending
  std::vector<std::vector<size_t>> targets;  // per watcher: member indices, ascending, not itself
  std::vector<uint32_t> watcher_count;       // per member: how many watchers watch it
  std::vector<bool> is_watcher;              // per member
};

/// round(members * fraction) watchers (at least one when fraction > 0), each watching `watch`
/// distinct other members; throws std::invalid_argument when `watch` >= members (with
/// watchers) or fraction is outside 0 ... 1.
watch_plan make_watch_plan(size_t members, double fraction, size_t watch, uint64_t seed = 1);

/// presence.subscribe frames for `users` (user numbers), at most `per_frame` ids each.
std::vector<std::string> subscribe_frames(const std::vector<uint64_t>& users,
                                          size_t per_frame = 100);

} // namespace parley::bench
