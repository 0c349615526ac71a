#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>

#include "protocol/ids.hpp"
#include "protocol/message.hpp"
#include "protocol/presence_status.hpp"
#include "protocol/server_frame.hpp"
#include "storage/membership_store.hpp"
#include "storage/message_log.hpp"

namespace parley {

// Structs crossing actors (and nodes), each with its `inspect`. The two that carry an actor
// handle (send_request, send_reply) live in actors/interfaces.hpp, after the handle's type.

template <class Inspector, char Prefix>
typename Inspector::result_type inspect(Inspector& f, named_id<Prefix>& x) {
  return f(x.value);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, principal& x) {
  return f(caf::meta::type_name("principal"), x.workspace, x.user);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.workspace, x.channel, x.seq, x.user,
           x.client_msg_id, x.text, x.ts);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_ack& x) {
  return f(caf::meta::type_name("send_ack"), x.client_msg_id, x.channel, x.seq, x.ts);
}

/// An encoded frame shared by every local recipient; crosses nodes as its bytes.
struct shared_frame {
  frame_ptr ptr;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shared_frame& x) {
  std::string bytes = x.ptr ? *x.ptr : std::string{};
  auto restore = [&]() -> caf::error {
    x.ptr = share(std::move(bytes));
    return caf::none;
  };
  return f(caf::meta::type_name("shared_frame"), bytes, caf::meta::load_callback(restore));
}

/// One page of a channel's history.
struct backfill_page {
  channel_id channel;
  uint64_t after_seq = 0;
  std::vector<chat_message> messages;
  bool has_more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, backfill_page& x) {
  return f(caf::meta::type_name("backfill_page"), x.channel, x.after_seq, x.messages,
           x.has_more);
}

/// What a node's gateway pushes to its local connections of a channel. A channel actor sends
/// ONE delivery per message per subscribed node.
enum class delivery_kind : uint8_t {
  message, // droppable message.new of `seq`
  control, // never dropped (presence.update), to every local connection of the channel
  cursor,  // channel.cursor of a read-time (large) channel
};

struct delivery {
  channel_id channel;
  delivery_kind kind = delivery_kind::message;
  uint64_t seq = 0;
  shared_frame frame;
  uint64_t ack_conn = 0;   // written first, to this connection only: the sender's ack
  shared_frame ack_frame;
  // steady_ns() of the ack, for the delivery latency histogram. Not serialized: a delivery
  // that crosses nodes arrives with 0 (steady clocks differ) and is not observed.
  int64_t acked_ns = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery& x) {
  return f(caf::meta::type_name("delivery"), x.channel, x.kind, x.seq, x.frame, x.ack_conn,
           x.ack_frame);
}

/// Deliveries of any channels of one node to one other node's gateway, sent as ONE message
/// (docs/architecture.md "Backpressure", layer 3): in order, per channel as the channel sent them.
struct delivery_batch {
  std::vector<delivery> items;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_batch& x) {
  return f(caf::meta::type_name("delivery_batch"), x.items);
}

/// A user's presence in a channel.
struct presence_entry {
  user_id user;
  presence_status status = presence_status::online;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_entry& x) {
  return f(caf::meta::type_name("presence_entry"), x.user, x.status);
}

/// What a channel actor needs at activation.
struct channel_snapshot {
  bool found = false;
  workspace_id workspace;
  std::vector<user_id> members;
  uint64_t latest_seq = 0;
  std::vector<chat_message> recent; // the newest messages, ascending
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_snapshot& x) {
  return f(caf::meta::type_name("channel_snapshot"), x.found, x.workspace, x.members,
           x.latest_seq, x.recent);
}

/// A channel with its latest seq, as listed in hello_ack.
struct channel_position {
  channel_id channel;
  uint64_t latest_seq = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_position& x) {
  return f(caf::meta::type_name("channel_position"), x.channel, x.latest_seq);
}

} // namespace parley

namespace parley::storage {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_outcome& x) {
  return f(caf::meta::type_name("append_outcome"), x.status, x.original);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, channel_summary& x) {
  return f(caf::meta::type_name("channel_summary"), x.id, x.name, x.latest_seq, x.is_dm,
           x.members);
}

} // namespace parley::storage
