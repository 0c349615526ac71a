#include "protocol/rendezvous.hpp"

namespace parley {

uint64_t stable_hash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // FNV-1a alone clusters on short, similar keys; the finalizer spreads them.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

std::string rendezvous_owner(channel_id channel, const std::vector<std::string>& nodes) {
  return rendezvous_owner(std::string_view(channel.str()), nodes);
}

std::string rendezvous_owner(std::string_view key, const std::vector<std::string>& nodes) {
  std::string best;
  uint64_t best_weight = 0;
  auto suffix = "/" + std::string(key);
  for (auto& node : nodes) {
    auto w = stable_hash(node + suffix);
    if (best.empty() || w > best_weight || (w == best_weight && node < best)) {
      best = node;
      best_weight = w;
    }
  }
  return best;
}

} // namespace parley
