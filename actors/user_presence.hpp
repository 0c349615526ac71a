#pragma once

#include <cstdint>
#include <vector>

#include "actors/interfaces.hpp"

namespace parley {

/// One user's presence combined from every node's word (docs/architecture.md "Presence"): the
/// gateways of the nodes where it is connected and one away flag, whose newest stamp wins
/// whichever node set it. Kept by channels for their members and by the user's home presence
/// actor for its subscribers.
struct user_presence {
  std::vector<gateway_actor> gateways;
  bool away = false;
  uint64_t away_stamp = 0; // when `away` was set; 0: never

  /// offline without a gateway, else away or online by the flag.
  presence_status status() const;

  /// What one word changed in the gateway set.
  enum class gateway_change { none, added, removed };

  /// One node's word: offline detaches `gw`; online or away attach it, with the stamp of that
  /// node's away flag (0: no word on it; an older stamp changes nothing).
  gateway_change apply(const gateway_actor& gw, presence_status s, uint64_t stamp);

  /// True if a word with `stamp` is older than the flag held here: its node should hear the
  /// newer flag (away_atom), so that its later re-attaches carry it.
  bool newer_than(uint64_t stamp) const { return stamp < away_stamp; }
};

} // namespace parley
