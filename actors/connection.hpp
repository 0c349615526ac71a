#pragma once

#include <cstdint>
#include <vector>
#include <string>
#include <unordered_map>

#include <caf/actor_clock.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/interfaces.hpp"
#include "actors/channel_directory.hpp"
#include "actors/node_env.hpp"
#include "actors/outbound_sink.hpp"
#include "protocol/client_frame.hpp"
#include "protocol/close_code.hpp"

namespace parley {

/// What every connection of a node is given at spawn: one immutable value shared by all of
/// them (a pointer per connection keeps idle connections small).
struct connection_deps {
  node_env env;
  gateway_actor gateway;
  presence_actor presence;
  std::shared_ptr<channel_directory> channels; // asked on a channel's first use only
};

using connection_deps_ptr = std::shared_ptr<const connection_deps>;

/// One WebSocket session's protocol state machine (docs/architecture.md "Connection";
/// docs/protocol.md "Rules"): hello/backfill, sends, pings, presence requests, timeouts. The socket
/// lives on an Asio thread: frames arrive as messages, everything outbound goes to the sink.
struct connection_state {
  static inline const char* name = "connection";

  enum class phase { awaiting_hello, greeting, ready, closing };

  connection_deps_ptr deps;
  uint64_t id = 0;
  principal who;
  sink_ptr sink;
  phase current = phase::awaiting_hello;
  std::vector<std::string> held; // frames that arrived while hello was in progress
  caf::actor_clock::time_point last_activity;
  bool registered = false;
  std::string session_id;
  // The channels this connection talks to, looked up in the node's directory once (not on
  // every send); an entry goes on any error, so it holds only channels that answered.
  std::unordered_map<channel_id, channel_actor> channels;
  // Sends not answered yet, oldest first (actors/connection.cpp "send deadlines").
  struct outstanding_send {
    uint64_t token;
    caf::actor_clock::time_point asked;
    channel_id channel;
    std::string client_msg_id;
    bool answered;
  };
  std::vector<outstanding_send> sends;
  uint64_t next_send_token = 0;
  bool send_deadline_scheduled = false;
  std::vector<user_id> watching; // presence.subscribe, ascending (the gateway routes them)
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// The behaviour of a connection actor (interface: connection_actor).
connection_actor::behavior_type
connection(connection_actor::stateful_pointer<connection_state> self, connection_deps_ptr deps,
           uint64_t id, principal who, int64_t token_exp_s, sink_ptr sink);

} // namespace parley
