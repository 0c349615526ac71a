#pragma once

// Deterministic actor simulation (STYLE.md "Tests"): one node's actors wired as in
// runtime/node.cpp, all on CAF's test_coordinator, over a real SQLite file. Assertions are
// Catch2's, made on what the recording sinks captured.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <nlohmann/json.hpp>

#include "actors/interfaces.hpp"
#include "actors/node_actors.hpp"
#include "actors/outbound_sink.hpp"
#include "protocol/ids.hpp"
#include "protocol/outbound_queue.hpp"
#include "storage/soci_store.hpp"
#include "tests/storage/sqlite_fixture.hpp"

namespace parley::test {

using json = nlohmann::json;

/// A close the actors asked the socket for.
struct recorded_close {
  uint16_t code = 0;
  std::string reason;
};

/// An outbound_sink that "writes" every frame at once, in push order, except that frames
/// pushed between hold() and release(first) come after `first` (like ws_session). After a
/// close, nothing more is written (ws_session drops pushes once a close is requested).
class recording_sink : public outbound_sink {
public:
  void push_message(frame_ptr frame, channel_id channel, uint64_t seq) override;
  void push_control(frame_ptr frame) override;
  void hold() override;
  void release(std::vector<frame_ptr> first) override;
  void close(uint16_t code, std::string reason) override;

  /// Every frame written so far, parsed, in write order.
  std::vector<json> frames() const;

  /// The written frames of one `type`, in order.
  std::vector<json> of_type(const std::string& type) const;

  /// The frames written since the previous call of `take_new` (or since the start).
  std::vector<json> take_new();

  /// Every close requested (at most one is expected).
  std::vector<recorded_close> closes() const;

  /// True while frames are held back.
  bool holding() const;

protected:
  void write_locked(const frame_ptr& frame);

  mutable std::mutex mtx_;
  bool held_ = false;
  bool closed_ = false;
  std::vector<frame_ptr> held_frames_;
  std::vector<json> written_;
  size_t taken_ = 0;
  std::vector<recorded_close> closes_;
};

/// A slow consumer: pushes go through protocol/outbound_queue (drop oldest message.new beyond
/// `max_droppable`, channel.cursor once drained after a drop) and are only written when the
/// test calls `drain()`, like ws_session whose socket write completes only then.
class queue_sink : public recording_sink {
public:
  explicit queue_sink(size_t max_droppable, size_t max_control_bytes = 4u << 20);

  void push_message(frame_ptr frame, channel_id channel, uint64_t seq) override;
  void push_control(frame_ptr frame) override;
  void hold() override;
  void release(std::vector<frame_ptr> first) override;
  void close(uint16_t code, std::string reason) override;

  /// Writes the preface and everything queued (unless held); returns the frames written.
  size_t drain();

  /// message.new frames the queue dropped so far.
  uint64_t dropped() const;

  /// Frames waiting in the queue.
  size_t queued() const;

private:
  outbound_queue queue_;
  std::vector<frame_ptr> preface_;
};

/// Limits for tests: the defaults of node_limits, with a small recent ring.
node_limits test_limits();

/// A test client: its connection actor and what its socket wrote.
struct client {
  principal who;
  uint64_t conn_id = 0;
  connection_actor conn;
  std::shared_ptr<recording_sink> sink;
};

/// The actor system config of every actor test: parley types, test scheduler, quiet logs.
struct actor_test_config : caf::actor_system_config {
  actor_test_config();
};

/// The SQLite database shared by one test case; it outlives the actor systems built on it so
/// a test can "restart" a node on the same file.
struct test_db : storage::test::sqlite_fixture {
  /// Opens a fresh store on the file (one SOCI session).
  std::shared_ptr<storage::soci_store> store();

  /// Creates a channel in `workspace` with `members` and returns its id.
  channel_id create_channel(workspace_id workspace, const std::string& name,
                            const std::vector<user_id>& members);

  /// Appends rows behind the actors' back; REQUIREs every row to be stored.
  void append(const std::vector<chat_message>& rows);

  /// Every stored message of a channel, ascending.
  std::vector<chat_message> messages(workspace_id workspace, channel_id channel);
};

/// One node wired by spawn_node_actors like parleyd's, but every actor (storage ones too)
/// runs on the test scheduler.
class actor_fixture {
public:
  explicit actor_fixture(test_db& db, node_limits limits = test_limits());
  ~actor_fixture();

  actor_fixture(const actor_fixture&) = delete;
  actor_fixture& operator=(const actor_fixture&) = delete;

  /// Runs every runnable job until the system is idle.
  size_t run();

  /// Moves simulated time forward, fires the due timers, then runs until idle.
  void advance(caf::timespan d);

  /// Spawns a connection actor for `who` (as the WebSocket listener does after the upgrade),
  /// with a token expiring at `token_exp_s` (Unix seconds; default: in an hour).
  client connect(principal who, std::shared_ptr<recording_sink> sink = nullptr,
                 std::optional<int64_t> token_exp_s = std::nullopt);

  /// Injects one client text frame (does not run).
  void inject(const client& c, const std::string& text);
  void inject(const client& c, const json& frame) { inject(c, frame.dump()); }

  /// Injects `hello` and runs.
  void hello(const client& c, const std::map<channel_id, uint64_t>& last_seq_map = {});

  /// connect + hello + run: a ready client.
  client join(principal who, std::shared_ptr<recording_sink> sink = nullptr);

  /// The socket reports closed (the one "closed" every ws_session produces), then runs.
  void socket_closed(const client& c);

  /// The channel actors spawned so far (active or not).
  const std::vector<channel_actor>& spawned_channels() const { return channels_; }

  actor_test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  node_actors node;
  std::shared_ptr<storage::soci_store> writer;
  std::shared_ptr<storage::soci_store> reader;

private:
  std::vector<channel_actor> channels_;
  std::vector<connection_actor> connections_;
  uint64_t next_conn_ = 1;
};

// -- client frames ----------------------------------------------------------------------

json send_frame(channel_id ch, const std::string& text, const std::string& client_msg_id);
json backfill_frame(channel_id ch, uint64_t after_seq, uint32_t limit);
json ping_frame(int64_t ts);
json presence_set_frame(const std::string& status);

// -- queries on recorded frames -------------------------------------------------------

/// The frames of `type` among `frames`.
std::vector<json> filter(const std::vector<json>& frames, const std::string& type);

/// The channel_seq of each frame (message.new / message.ack), in order.
std::vector<uint64_t> seqs_of(const std::vector<json>& frames);

/// 1, 2, ..., n.
std::vector<uint64_t> iota_seqs(uint64_t first, uint64_t last);

/// Index of the first frame matching `pred`, or -1.
template <class Pred>
long index_of(const std::vector<json>& frames, Pred pred) {
  for (size_t i = 0; i < frames.size(); ++i)
    if (pred(frames[i]))
      return static_cast<long>(i);
  return -1;
}

} // namespace parley::test
