#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/presence_mirror.hpp"

namespace parley::storage {

/// Settings of the Redis presence mirror (`--redis`, `--redis.*`).
struct redis_mirror_config {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  std::string node = "local"; // the value of user:{W}:{U}:gateway
  std::chrono::milliseconds flush{5000};          // TTL refresh of every key
  std::chrono::seconds ttl{45};                   // of every key
  std::chrono::milliseconds delta_delay{50};      // deltas wait this long to share a batch
  std::chrono::milliseconds connect_timeout{200};
  std::chrono::milliseconds command_timeout{500}; // a slower Redis counts as down
  std::chrono::milliseconds reconnect{1000};      // between connection attempts while down
};

/// The presence mirror on Redis through hiredis (key schema: storage/presence_mirror.hpp).
/// Writes run on its own thread with pipelined commands; callers only take a short mutex.
/// While Redis is down or slower than `command_timeout`, writes fail fast, are counted in
/// `errors`, and the pending deltas are kept; after reconnecting, the mirror rewrites its
/// full state (a restarted Redis may have lost everything).
class redis_presence_mirror final : public presence_mirror {
public:
  /// Starts the writer thread; never blocks on Redis. `errors` (may be null) counts failed
  /// connection attempts and failed batches.
  redis_presence_mirror(redis_mirror_config cfg, std::atomic<uint64_t>* errors);

  /// Stops the writer thread (waits at most one command timeout).
  ~redis_presence_mirror() override;

  redis_presence_mirror(const redis_presence_mirror&) = delete;
  redis_presence_mirror& operator=(const redis_presence_mirror&) = delete;

  void online(principal who, std::vector<channel_id> channels) override;

  void offline(principal who) override;

  /// Batches written completely since start (tests, metrics).
  uint64_t batches_written() const;

  /// Failed connection attempts and batches since start.
  uint64_t errors() const;

  /// Whether the last attempt to talk to Redis succeeded.
  bool connected() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The Redis key of a user's gateway node: "user:W1:U7:gateway".
std::string redis_gateway_key(principal who);

/// The Redis key of a channel's online set: "channel:C3:online".
std::string redis_online_key(channel_id channel);

/// A member of an online set: "W1:U7".
std::string redis_member(principal who);

} // namespace parley::storage
