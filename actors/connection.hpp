#pragma once

#include <cstdint>
#include <vector>
#include <string>

#include <caf/actor_clock.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/actor_metrics.hpp"
#include "actors/messages.hpp"
#include "actors/node_context.hpp"
#include "actors/outbound_sink.hpp"
#include "protocol/client_frame.hpp"
#include "protocol/close_code.hpp"

namespace parley {

/// One WebSocket session's protocol state machine (docs/architecture.md "Connection", "Rules"):
/// hello/backfill, sends, pings, presence requests, timeouts. The socket lives on an Asio
/// thread: frames arrive as messages, everything outbound goes to the sink.
struct connection_state {
  static inline const char* name = "connection";

  enum class phase { awaiting_hello, greeting, ready, closing };

  node_ptr node;
  uint64_t id = 0;
  principal who;
  sink_ptr sink;
  phase current = phase::awaiting_hello;
  std::vector<std::string> held; // frames that arrived while hello was in progress
  caf::actor_clock::time_point last_activity;
  bool registered = false;
  std::string session_id;
  actor_slot slot; // live-actor gauge and /v1/admin/actors entry
};

/// Handlers:
///   (frame_atom, string text)  a text frame from the client
///   (activity_atom)            a WebSocket control frame (ping/pong): resets the idle timer
///   (closed_atom)              the socket closed; leaves the gateway and terminates
///   INTERNAL: (hello_tmo_atom), (idle_tmo_atom), (expiry_atom)
caf::behavior connection(caf::stateful_actor<connection_state>* self, node_ptr node,
                         uint64_t id, principal who, int64_t token_exp_s, sink_ptr sink);

} // namespace parley
