#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tools/bench/frame_scan.hpp"

namespace parley::bench {

/// Which server the bench drives (--target).
enum class target_kind { parley, socketio, ws };

/// Parses "parley" | "socketio" | "ws".
std::optional<target_kind> parse_target(std::string_view name);
const char* target_name(target_kind k);

/// Message text carried by every target: "t=<send steady ns>;id=<message id>;" then padding.
/// Latency is the receive time minus that embedded send time (CLOCK_MONOTONIC is one clock
/// for every process on the machine, so forked workers measure against the publisher's time).
std::string make_payload(std::string_view id, int64_t send_ns, size_t pad_to);

/// Reads the send time and message id back from a payload; false when it is not ours.
bool parse_payload(std::string_view payload, int64_t& send_ns, std::string_view& id);

/// What a frame received before the client is ready does.
struct setup_step {
  bool consumed = false;  // the frame belonged to the handshake
  bool ready = false;     // the client is now a member of its room
  std::string reply;      // frame to send back, if any
  std::string error;      // the server refused: fail the client with this reason
};

/// The wire dialect of one target: how a client joins its room, sends, and how a received
/// frame maps onto the common scanned_frame (message_new carries send_ns and the message id).
///   parley:   JWT in the upgrade URL + hello -> hello_ack; membership comes from admin REST.
///   socketio: Engine.IO v4 over a raw WebSocket: "0{..}" -> send "40" -> "40{..}" ->
///             emit 420["join",room] -> ack "430[..]"; server pings "2" are answered "3";
///             sends are 42N["send",{room,payload,id}] acked by 43N[{"id":..}].
///   ws:       {"type":"join","room":R} -> {"type":"joined"}; {"type":"send",..,"id":I} ->
///             {"type":"ack","id":I}; members receive {"type":"msg","room":R,"payload":P}.
class target_protocol {
public:
  explicit target_protocol(target_kind k) : kind_(k) {}

  target_kind kind() const { return kind_; }
  const char* name() const { return target_name(kind_); }
  /// Only Parley numbers messages per channel; order and gap checks need seqs.
  bool has_seqs() const { return kind_ == target_kind::parley; }

  /// The upgrade target for user number `user`.
  std::string ws_path(uint64_t user, const std::string& workspace, const std::string& secret,
                      int64_t exp_unix) const;

  /// Frame sent right after the upgrade; empty = wait for the server to speak first.
  std::string first_frame(const std::string& room) const;

  /// Handles a frame received before the client is ready.
  setup_step on_setup_frame(std::string_view raw, const std::string& room) const;

  /// Reads a frame of a ready client; nullopt = not understood.
  std::optional<scanned_frame> scan(std::string_view raw) const;

  /// Whether `raw` is a protocol ping the client must answer with auto_reply() (Engine.IO).
  bool is_server_ping(std::string_view raw) const;
  std::string auto_reply() const { return "3"; }

  /// The application keep-alive the fleet sends every 10 s; empty = none needed.
  std::string keepalive() const;

  /// A send of `payload` to `room` with message id `id`.
  std::string send_frame(const std::string& room, std::string_view id,
                         const std::string& payload) const;

private:
  target_kind kind_;
  mutable uint64_t next_ack_ = 1;  // Socket.IO ack ids; 0 is the join
};

} // namespace parley::bench
