#pragma once

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/channel_fanout.hpp"
#include "actors/channel_presence.hpp"
#include "actors/interfaces.hpp"
#include "actors/channel_deps.hpp"
#include "protocol/token_bucket.hpp"

namespace parley {

/// The single writer of one channel's sequence (docs/architecture.md "Channel", "Send path"):
/// the only place a seq is assigned. Activated on first use (loads members, latest seq and
/// recent messages), passivated when quiet. Dedups retries, checks membership and rate
/// limits, assigns seq = last + 1, hands the message to the group commit and, once durable,
/// acks the sender and fans out (actors/channel_fanout.hpp) in seq order.
struct channel_state {
  static inline const char* name = "channel";

  using reply_promise = caf::typed_response_promise<send_reply>;

  struct pending_send {
    uint64_t id;
    send_request req;
    std::string key; // dedup_key(req.sender, req.client_msg_id), built once per send
    reply_promise rp;
    bool looked_up = true;        // false while its dedup lookup is out
    bool lookup_failed = false;
    bool storage_checked = false; // its dedup key was looked up in storage
    std::optional<chat_message> original; // the stored message with the same dedup key
    caf::actor_clock::time_point asked;   // when its dedup lookup went to storage
  };

  struct committing_send {
    chat_message msg;
    send_request req;
    std::string key; // the dedup key, moved on from its pending_send
    std::vector<reply_promise> rps; // the sender and retries that arrived meanwhile
    bool done = false;
    caf::expected<storage::append_outcome> outcome = storage::append_outcome{};
    caf::actor_clock::time_point asked; // when it went to the group commit
  };

  channel_deps_ptr deps;
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

  std::unordered_map<user_id, token_bucket> buckets;   // per member
  std::shared_ptr<shared_token_bucket> quota;          // the workspace's, shared, lock-free

  channel_presence presence; // who is online on which gateway
  channel_fanout fanout;     // delivery to the gateways, circuits, cursor mode

  caf::actor_clock::time_point last_active;
  caf::actor_clock::time_point activated_at; // sends in the first request timeout after it
                                             // are looked up in storage (retries come then)
  bool idle_check_scheduled = false;
  bool deadline_scheduled = false; // a deadline tick is due for storage answers

  uint64_t durable_seq() const { return ring.empty() ? 0 : ring.back().seq; }

  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// The behaviour of a channel actor (interface: channel_actor in actors/interfaces.hpp).
channel_actor::behavior_type channel(channel_self self, channel_deps_ptr deps, channel_id id);

/// The dedup key (docs/protocol.md "Rules"): (workspace, user, client_msg_id).
std::string dedup_key(const principal& who, const std::string& client_msg_id);

} // namespace parley
