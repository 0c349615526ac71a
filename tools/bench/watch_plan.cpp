#include "tools/bench/watch_plan.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace parley::bench {

namespace {

// splitmix64: the same sequence on every platform, unlike std::uniform_int_distribution.
uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

} // namespace

watch_plan make_watch_plan(size_t members, double fraction, size_t watch, uint64_t seed) {
  if (!(fraction >= 0 && fraction <= 1))
    throw std::invalid_argument("the watcher fraction must be in 0 ... 1");
  watch_plan p;
  p.watcher_count.assign(members, 0);
  p.is_watcher.assign(members, false);
  auto n = static_cast<size_t>(std::llround(static_cast<double>(members) * fraction));
  if (fraction > 0 && members > 0)
    n = std::max<size_t>(n, 1);
  if (n == 0)
    return p;
  if (watch >= members)
    throw std::invalid_argument("each watcher needs " + std::to_string(watch)
                                + " other members to watch, the channel has "
                                + std::to_string(members) + " members");
  uint64_t state = seed;
  for (size_t i = 0; i < n; ++i) {
    size_t self = i * members / n;
    p.watchers.push_back(self);
    p.is_watcher[self] = true;
    // Rejection sampling: `watch` is at most 500, far below the members it is drawn from
    // in any useful run, so the retries stay few.
    std::vector<size_t> picked;
    std::vector<bool> taken(members, false);
    taken[self] = true;
    while (picked.size() < watch) {
      auto m = static_cast<size_t>(next_random(state) % members);
      if (taken[m])
        continue;
      taken[m] = true;
      picked.push_back(m);
    }
    std::sort(picked.begin(), picked.end());
    for (auto m : picked)
      ++p.watcher_count[m];
    p.targets.push_back(std::move(picked));
  }
  return p;
}

std::vector<std::string> subscribe_frames(const std::vector<uint64_t>& users, size_t per_frame) {
  std::vector<std::string> frames;
  for (size_t from = 0; from < users.size(); from += per_frame) {
    nlohmann::json ids = nlohmann::json::array();
    for (size_t i = from; i < std::min(users.size(), from + per_frame); ++i)
      ids.push_back("U" + std::to_string(users[i]));
    frames.push_back(
      nlohmann::ordered_json{{"type", "presence.subscribe"}, {"user_ids", ids}}.dump());
  }
  return frames;
}

} // namespace parley::bench
