#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/response_promise.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "protocol/token_bucket.hpp"

namespace parley {

/// The single writer of one channel's sequence (docs/architecture.md "Channel", "Send path").
/// Activated on first use (loads members, latest seq and recent messages), passivated when
/// quiet. Dedups retries, checks membership and rate limits, assigns seq = last + 1, hands the
/// message to the group commit and, once durable, acks the sender and fans out ONE delivery per
/// subscribed node gateway, in seq order.
struct channel_state {
  static inline const char* name = "channel";

  struct pending_send {
    uint64_t id;
    send_request req;
    caf::response_promise rp;
    bool looked_up = false;
    bool lookup_failed = false;
    std::optional<chat_message> original; // the stored message with the same dedup key
  };

  struct committing_send {
    chat_message msg;
    send_request req;
    std::vector<caf::response_promise> rps; // the sender and retries that arrived meanwhile
    bool done = false;
    caf::expected<storage::append_outcome> outcome = storage::append_outcome{};
  };

  node_ptr node;
  channel_id id;
  bool found = false;
  workspace_id workspace;
  std::unordered_set<user_id> members;

  uint64_t last_seq = 0;    // the last assigned seq: seq is assigned only here
  int64_t last_ts = 0;
  std::deque<chat_message> ring; // durable messages, ascending, at most limits.recent_ring

  std::deque<pending_send> pending; // waiting for their dedup lookup, in arrival order
  uint64_t next_pending_id = 0;
  std::map<uint64_t, committing_send> committing; // by seq
  std::unordered_map<std::string, uint64_t> committing_keys;

  std::unordered_map<std::string, send_ack> acked; // recent acks by dedup key
  std::deque<std::string> acked_order;

  std::unordered_map<user_id, token_bucket> buckets;

  // Presence: user -> status per node gateway; gateway -> users online there.
  std::unordered_map<user_id, std::map<caf::actor, presence_status>> online;
  std::map<caf::actor, size_t> gateways;
  std::map<user_id, presence_status> presence_backlog; // coalesced updates of big channels
  bool presence_flush_scheduled = false;

  /// The delivery path to another node's gateway (docs/architecture.md "Backpressure", layer 3).
  struct peer_link {
    std::string peer;        // the peer node's name: the key of its circuit in the node context
    bool confirming = false; // a delivery awaiting confirmation is out
    caf::actor_clock::time_point confirm_sent; // when the last one went out
    bool behind = false;     // deliveries were skipped (open circuit): owes the peer a cursor
  };
  std::map<caf::actor, peer_link> links; // remote gateways with online members
  bool catch_up_scheduled = false;
  caf::actor_clock::time_point catch_up_at; // when the scheduled catch-up tick fires

  bool cursor_dirty = false;
  bool cursor_scheduled = false;
  caf::actor_clock::time_point last_cursor;

  caf::actor_clock::time_point last_active;
  bool idle_check_scheduled = false;

  uint64_t durable_seq() const { return ring.empty() ? 0 : ring.back().seq; }

  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// Handlers:
///   (send_atom, send_request)                          -> send_reply | error
///   (attach_atom, principal, gateway, presence_status) -> uint64 latest_seq | not_in_channel
///       a user's status on one node; `offline` detaches it
///   (backfill_atom, principal, uint64 after, uint32 limit) -> backfill_page | not_in_channel
///   (who_atom, principal)                              -> vector<presence_entry>
///   (add_atom, vector<user_id>)                        -> vector<user_id> added (admin)
///   (remove_atom, user_id)                             -> bool (admin; false: not a member)
///   INTERNAL: (idle_atom), (cursor_atom), (status_atom) presence flush,
///             (catchup_atom) cursor to peers whose deliveries an open circuit skipped
caf::behavior channel(caf::stateful_actor<channel_state>* self, node_ptr node, channel_id id);

/// The dedup key (docs/protocol.md "Rules"): (workspace, user, client_msg_id).
std::string dedup_key(const principal& who, const std::string& client_msg_id);

} // namespace parley
