#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/expected.hpp>

#include "protocol/ids.hpp"
#include "protocol/message.hpp"
#include "protocol/presence_status.hpp"

namespace parley::storage {

/// A user's presence transition on one node (docs/architecture.md "Presence"), for the presence
/// topic.
struct presence_event {
  principal who;
  std::string node;
  presence_status status = presence_status::online;
  int64_t ts = 0; // microseconds since the Unix epoch
};

/// Streams the durable message log and presence transitions to pipelines outside the
/// delivery path (search, push, analytics). Calls never block: messages are read back from
/// the durable log by the exporter's own thread, presence events are queued (bounded).
class event_export {
public:
  virtual ~event_export() = default;

  /// Queues one presence transition; the oldest queued events are dropped when the
  /// exporter cannot keep up (presence is a hint, messages are never dropped).
  virtual void presence(presence_event ev) = 0;
};

/// Where an exporter resumes: the last exported seq of one channel.
struct export_cursor {
  workspace_id workspace;
  channel_id channel;
  uint64_t last_seq = 0;
};

/// The durable log as an exporter reads it: messages not yet exported on a stream and the
/// per-channel cursors, kept in the same storage as the messages. Blocking, single-threaded.
class export_log {
public:
  virtual ~export_log() = default;

  /// Returns up to `limit` messages with seq > the stream's cursor of their channel, ordered
  /// by (workspace, channel, seq), starting after channel `(from_workspace, from_channel)` so
  /// that a busy channel cannot starve the others (pass 0, 0 to start at the first channel).
  /// Channels created since the last call get a cursor at 0 first.
  virtual caf::expected<std::vector<chat_message>>
  read_unexported(const std::string& stream, workspace_id from_workspace,
                  channel_id from_channel, uint32_t limit) = 0;

  /// Moves cursors forward (never back) in one transaction.
  virtual caf::error advance_cursors(const std::string& stream,
                                     const std::vector<export_cursor>& cursors) = 0;

  /// Returns the stream's cursors (tests, tools).
  virtual caf::expected<std::vector<export_cursor>> cursors(const std::string& stream) = 0;
};

/// Renders one message as the export stream's JSON value:
/// {"workspace_id":"W1","channel_id":"C3","channel_seq":5,"user_id":"U7","text":"…",
///  "ts":1700000000000000,"client_msg_id":"m1"}
std::string export_json(const chat_message& msg);

/// Renders one presence transition as the presence stream's JSON value:
/// {"workspace_id":"W1","user_id":"U7","node":"node-a","status":"offline","ts":…}
std::string export_json(const presence_event& ev);

} // namespace parley::storage
