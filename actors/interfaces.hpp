#pragma once

// Every typed actor interface of a node, one commented line per handler (docs/architecture.md
// "Actors"). The compiler rejects a message an actor does not handle and a reply of the wrong
// type. Self-sent ticks are marked INTERNAL: they are part of the interface only because CAF
// type-checks a typed actor's messages to itself too.

#include <cstdint>
#include <string>
#include <vector>

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"
#include "actors/outbound_sink.hpp"
#include "protocol/ids.hpp"
#include "protocol/presence_status.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"

namespace parley {

/// One per WebSocket session; its socket lives on an Asio thread (runtime/ws_session.hpp).
using connection_actor = caf::typed_actor<
  // A text frame from the client.
  caf::reacts_to<frame_atom, std::string>,
  // A WebSocket control frame (ping/pong): resets the idle timer.
  caf::reacts_to<activity_atom>,
  // The socket closed (exactly once): leave the gateway and terminate.
  caf::reacts_to<closed_atom>,
  // INTERNAL: no hello in time; idle check; the token expired; a send's answer is overdue.
  caf::reacts_to<hello_tmo_atom>, caf::reacts_to<idle_tmo_atom>, caf::reacts_to<expiry_atom>,
  caf::reacts_to<deadline_atom>>;

/// One per node: its local connections and the ONE delivery per message per node.
using gateway_actor = caf::typed_actor<
  // A connection completed hello: route it, mark its user online, answer the latest seqs.
  caf::replies_to<register_atom, uint64_t, principal, sink_ptr>::with<
    std::vector<channel_position>>,
  // A connection closed.
  caf::reacts_to<unregister_atom, uint64_t>,
  // Push a channel's frame to the local connections of the channel (from a channel of this
  // node).
  caf::reacts_to<deliver_atom, delivery>,
  // Deliveries from another node's outbox, pushed in order. When it asks with a request, the
  // empty answer confirms this batch and every one before it.
  caf::reacts_to<deliver_atom, delivery_batch>,
  // Members were added to a channel (channel.joined to their connections here).
  caf::reacts_to<joined_atom, channel_id, workspace_id, std::vector<user_id>, uint64_t>,
  // A member was removed from a channel (channel.left).
  caf::reacts_to<left_atom, channel_id, workspace_id, user_id>,
  // A channel (re)activated somewhere: tell it who is online here.
  caf::reacts_to<rehome_atom, channel_id>,
  // A user's away flag as of a stamp, set on another node or newer in a channel: for presence.
  caf::reacts_to<away_atom, principal, bool, uint64_t>,
  // presence.subscribe of a local connection to users of its workspace: answers their
  // statuses now; presence.unsubscribe.
  caf::replies_to<watch_atom, uint64_t, workspace_id, std::vector<user_id>>::with<
    std::vector<presence_entry>>,
  caf::reacts_to<unwatch_atom, uint64_t, workspace_id, std::vector<user_id>>,
  // A watched user's transition, from its home presence: presence.update to the watchers here.
  caf::reacts_to<watched_atom, principal, presence_status>,
  // The cluster changed: subscribe the watched users at their (new) homes.
  caf::reacts_to<rehome_atom>>;

/// A validated `message.send` (WebSocket or REST) on its way to the channel actor.
struct send_request {
  principal sender;
  channel_id channel;
  std::string client_msg_id;
  std::string text;
  gateway_actor origin_gateway; // the sender connection's gateway; null for REST
  uint64_t origin_conn = 0;     // the sender connection on that gateway; 0 for REST
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_request& x) {
  return f(caf::meta::type_name("send_request"), x.sender, x.channel, x.client_msg_id, x.text,
           x.origin_gateway, x.origin_conn);
}

/// The answer to a send: the ack, and whether the gateway already wrote it to the sender
/// connection ahead of the message.new (so the connection must not write it again).
struct send_reply {
  send_ack ack;
  bool written_by_gateway = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_reply& x) {
  return f(caf::meta::type_name("send_reply"), x.ack, x.written_by_gateway);
}

/// One per active channel on its owner node (actors/channel.hpp); on other nodes a stub with
/// the same interface forwards to it (actors/channel_stub.hpp).
using channel_actor = caf::typed_actor<
  // message.send: dedup, membership, rate limits, seq, durable, then the ack.
  caf::replies_to<send_atom, send_request>::with<send_reply>,
  // A user's status on one node's gateway (offline detaches) and the stamp of its away flag
  // there (0: no word on it; the newest stamp wins); answers the latest seq.
  caf::replies_to<attach_atom, principal, gateway_actor, presence_status, uint64_t>::with<
    uint64_t>,
  // One page of history after a seq.
  caf::replies_to<backfill_atom, principal, uint64_t, uint32_t>::with<backfill_page>,
  // presence.get: the online and away members.
  caf::replies_to<who_atom, principal>::with<std::vector<presence_entry>>,
  // Admin: add members; answers those that were not members yet.
  caf::replies_to<add_atom, std::vector<user_id>>::with<std::vector<user_id>>,
  // Admin: remove a member; false if it was not one.
  caf::replies_to<remove_atom, user_id>::with<bool>,
  // A channel or DM was just created with these members: channel.joined to every node.
  caf::reacts_to<announce_atom, std::vector<user_id>>,
  // INTERNAL: passivation check, cursor tick, catch-up of skipped peers, presence flush,
  // storage deadline check.
  caf::reacts_to<idle_atom>, caf::reacts_to<cursor_atom>, caf::reacts_to<catchup_atom>,
  caf::reacts_to<coalesce_atom>, caf::reacts_to<deadline_atom>>;

/// One per peer node of a node: every channel's deliveries to that peer's gateway, in batches
/// (one BASP message each), with the cumulative confirmation that tells a slow peer from a dead
/// one (docs/architecture.md "Backpressure", layer 3). Membership changes take the same path, so
/// the peer sees each channel's deliveries and changes in the order the channel sent them.
using peer_outbox_actor = caf::typed_actor<
  // A channel's delivery for the peer.
  caf::reacts_to<deliver_atom, delivery>,
  // A channel's joined/left, forwarded after what was queued before them.
  caf::reacts_to<joined_atom, channel_id, workspace_id, std::vector<user_id>, uint64_t>,
  caf::reacts_to<left_atom, channel_id, workspace_id, user_id>,
  // A channel skipped deliveries while the circuit was open: a catchup to it once it closes.
  caf::reacts_to<catchup_atom, channel_actor>,
  // INTERNAL: the mailbox is drained, send the batch; a probe of the open circuit is due.
  caf::reacts_to<flush_atom>, caf::reacts_to<probe_atom>>;

/// One per node: presence of the users connected here.
using presence_actor = caf::typed_actor<
  // Wiring, once at spawn before any traffic: this node's gateway.
  caf::reacts_to<wire_atom, gateway_actor>,
  // A user's connection completed hello: attach it to its channels, answer the latest seqs.
  caf::replies_to<connect_atom, principal, uint64_t, std::vector<channel_id>>::with<
    std::vector<channel_position>>,
  // A connection closed; the last one makes the user offline here.
  caf::reacts_to<disconn_atom, principal, uint64_t>,
  // presence.set (online | away).
  caf::reacts_to<status_atom, principal, presence_status>,
  // The user's away flag as of a stamp, from another node or a channel: kept if newer.
  caf::reacts_to<away_atom, principal, bool, uint64_t>,
  // The user became a member of a channel while online / was removed from one.
  caf::reacts_to<joined_atom, principal, channel_id>,
  caf::reacts_to<left_atom, principal, channel_id>,
  // The cluster changed: re-attach everyone; a channel re-activated: re-attach its users.
  caf::reacts_to<rehome_atom>, caf::reacts_to<rehome_atom, channel_id>,
  // As the home of the users hashed to this node: one node's word on a user (as attach);
  // a gateway subscribes to users (answers their statuses now) or unsubscribes.
  caf::reacts_to<report_atom, principal, gateway_actor, presence_status, uint64_t>,
  caf::replies_to<subscribe_atom, workspace_id, std::vector<user_id>, gateway_actor>::with<
    std::vector<presence_entry>>,
  caf::reacts_to<unsub_atom, workspace_id, std::vector<user_id>, gateway_actor>,
  // INTERNAL: a user's coalesced transition is due.
  caf::reacts_to<coalesce_atom, principal>>;

/// One per node (detached): makes seqs durable in one transaction per batch and shard.
using group_commit_actor = caf::typed_actor<
  // Answers once the message's batch is durable (or refused: duplicate, seq taken).
  caf::replies_to<append_atom, chat_message>::with<storage::append_outcome>,
  // INTERNAL: commit what is buffered.
  caf::reacts_to<flush_atom>>;

/// A pool of detached workers with one storage connection each: reads and membership writes.
using storage_actor = caf::typed_actor<
  // The stored message with this dedup key (0 or 1).
  caf::replies_to<dedup_atom, workspace_id, user_id, std::string>::with<
    std::vector<chat_message>>,
  // Messages after a seq, ascending, at most `limit`.
  caf::replies_to<read_atom, workspace_id, channel_id, uint64_t, uint32_t>::with<
    std::vector<chat_message>>,
  // What a channel actor needs at activation.
  caf::replies_to<load_atom, channel_id>::with<channel_snapshot>,
  // The channels a user is a member of.
  caf::replies_to<channels_atom, workspace_id, user_id>::with<std::vector<channel_id>>,
  // The same with names and latest seqs (GET /v1/channels).
  caf::replies_to<list_channels_atom, workspace_id, user_id>::with<
    std::vector<storage::channel_summary>>,
  // Creates a channel with its members.
  caf::replies_to<create_atom, workspace_id, std::string, std::vector<user_id>>::with<
    channel_id>,
  // The DM of two users, created if needed (true: created now).
  caf::replies_to<dm_atom, workspace_id, user_id, user_id>::with<channel_id, bool>,
  // Adds members; answers those added.
  caf::replies_to<add_members_atom, workspace_id, channel_id, std::vector<user_id>>::with<
    std::vector<user_id>>,
  // Removes a member; false if it was not one.
  caf::replies_to<rm_member_atom, workspace_id, channel_id, user_id>::with<bool>>;

/// One per node of a cluster: BASP links to the peers, node-down detection, owner lookup.
using cluster_actor = caf::typed_actor<
  // A peer introduces itself (the sender is its cluster actor) with its gateway and presence;
  // answers this node's.
  caf::replies_to<hello_atom, std::string, gateway_actor, presence_actor>::with<
    std::string, gateway_actor, presence_actor>,
  // The local channel actor, if this node owns the channel.
  caf::replies_to<locate_atom, channel_id>::with<channel_actor>,
  // INTERNAL: reconnect link i after its backoff.
  caf::reacts_to<retry_atom, uint64_t>>;

} // namespace parley
