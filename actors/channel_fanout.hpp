#pragma once

#include <map>
#include <memory>

#include <caf/actor_clock.hpp>

#include "actors/interfaces.hpp"
#include "actors/peer_circuits.hpp"
#include "protocol/message.hpp"

namespace parley {

struct channel_state;

/// A channel actor as its helper functions see it.
using channel_self = channel_actor::stateful_pointer<channel_state>;

/// How a channel reaches the node gateways with online members (docs/architecture.md
/// "Fan-out tiers", "Backpressure"): ONE delivery per message per gateway, confirmation and
/// circuits toward other nodes, cursor mode for large or overloaded channels, and the
/// catch-up of peers whose deliveries an open circuit skipped. Owned by the channel state.
struct channel_fanout {
  /// The delivery path to another node's gateway.
  struct peer_link {
    peer_outbox_actor outbox;              // null if the gateway is not a live peer's
    std::shared_ptr<peer_circuit> circuit; // null while circuits are off or the peer unknown
    bool behind = false; // deliveries were skipped: owes the peer a cursor
    bool awaits_close = false; // skipped by an open circuit: the outbox tells when it closes
  };
  std::map<gateway_actor, peer_link> links; // remote gateways with online members
  bool catch_up_scheduled = false;
  caf::actor_clock::time_point catch_up_at; // when the scheduled catch-up tick fires

  bool cursor_dirty = false;
  bool cursor_scheduled = false;
  caf::actor_clock::time_point last_cursor;
};

/// Delivers a durable message to every gateway with online members, the sender's ack ahead
/// of it on the sender's connection. Returns true if that gateway wrote the ack. In cursor
/// mode only a channel.cursor goes out (at most one per interval).
bool fan_out_message(channel_self self, const chat_message& msg, const send_ack& ack,
                     const gateway_actor& origin_gateway, uint64_t origin_conn);

/// Sends one never-dropped frame (presence.update) to every gateway with online members.
void fan_out_control(channel_self self, frame_ptr frame);

/// The cursor tick: sends the pending channel.cursor.
void on_cursor_tick(channel_self self);

/// The catch-up tick, or an outbox whose circuit closed: a channel.cursor to every peer whose
/// deliveries were skipped.
void on_catch_up_tick(channel_self self);

/// Membership changes to a gateway, in the order of this channel's deliveries to it: through
/// the peer's outbox, or directly to this node's own gateway.
void send_in_order(channel_self self, const gateway_actor& gw, joined_atom, channel_id ch,
                   workspace_id ws, const std::vector<user_id>& users, uint64_t seq);
void send_in_order(channel_self self, const gateway_actor& gw, left_atom, channel_id ch,
                   workspace_id ws, user_id user);

/// A gateway's node went down: forget its link.
void forget_link(channel_self self, const caf::actor_addr& gateway);

} // namespace parley
