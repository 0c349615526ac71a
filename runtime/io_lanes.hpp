#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "actors/outbound_sink.hpp"

namespace parley {

/// A sink whose handlers all run on one io_lane's thread.
class lane_bound_sink : public outbound_sink {
public:
  /// push_message, called on the lane's own thread (no hop needed).
  virtual void push_message_here(const frame_ptr& frame, channel_id channel, uint64_t seq,
                                 int64_t acked_ns) = 0;
};

/// One Asio thread with its own io_context. Every handler of a connection accepted onto it
/// runs on that thread, so sessions need no strand, and a fan-out reaches all of the lane's
/// connections with one post (actors/outbound_sink.hpp, fanout_lane).
class io_lane : public fanout_lane {
public:
  /// `backlog` (optional) counts batches handed to the lane and not yet pushed; `delay`
  /// (optional) is how long the latest batch waited for the lane, in ns.
  explicit io_lane(std::atomic<int64_t>* backlog = nullptr,
                   std::atomic<int64_t>* delay = nullptr);

  boost::asio::io_context& context() { return ioc_; }

  /// Runs the context on the calling thread until stop().
  void run();
  void stop();

  /// `sinks` are lane_bound_sinks of this lane.
  void push_message(std::vector<sink_ptr> sinks, frame_ptr frame, channel_id channel,
                    uint64_t seq, int64_t acked_ns) override;

private:
  boost::asio::io_context ioc_;
  std::atomic<int64_t>* backlog_;
  std::atomic<int64_t>* delay_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
};

/// The node's Asio lanes (`io-threads` of them) and their threads.
class io_lanes {
public:
  io_lanes(size_t count, std::atomic<int64_t>* backlog = nullptr,
           std::atomic<int64_t>* delay = nullptr);
  ~io_lanes();

  io_lanes(const io_lanes&) = delete;
  io_lanes& operator=(const io_lanes&) = delete;

  /// The lane for a new connection (round robin).
  io_lane& next();
  io_lane& first() { return *lanes_.front(); }

  /// The lane running `executor`'s context; null for a foreign executor.
  io_lane* lane_of(const boost::asio::any_io_executor& executor);

  void start();
  /// Stops every lane and joins its thread.
  void stop();

private:
  std::vector<std::unique_ptr<io_lane>> lanes_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

} // namespace parley
