#include "runtime/io_lanes.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>

#include "actors/actor_metrics.hpp"

namespace parley {

namespace net = boost::asio;

io_lane::io_lane(std::atomic<int64_t>* backlog, std::atomic<int64_t>* delay)
  : ioc_(1), backlog_(backlog), delay_(delay), work_(net::make_work_guard(ioc_)) {
}

void io_lane::run() {
  ioc_.run();
}

void io_lane::stop() {
  work_.reset();
  ioc_.stop();
}

void io_lane::push_message(std::vector<sink_ptr> sinks, frame_ptr frame, channel_id channel,
                           uint64_t seq, int64_t acked_ns) {
  if (backlog_)
    backlog_->fetch_add(1, std::memory_order_relaxed);
  auto posted = delay_ ? steady_ns() : 0;
  net::post(ioc_, [this, sinks = std::move(sinks), frame = std::move(frame), channel, seq,
                   acked_ns, posted] {
    if (delay_) // overload as latency: how long this fan-out waited (actors/channel_fanout.cpp)
      delay_->store(steady_ns() - posted, std::memory_order_relaxed);
    for (auto& s : sinks)
      static_cast<lane_bound_sink&>(*s).push_message_here(frame, channel, seq, acked_ns);
    if (backlog_)
      backlog_->fetch_sub(1, std::memory_order_relaxed);
  });
}

io_lanes::io_lanes(size_t count, std::atomic<int64_t>* backlog, std::atomic<int64_t>* delay) {
  for (size_t i = 0; i < std::max<size_t>(1, count); ++i)
    lanes_.push_back(std::make_unique<io_lane>(backlog, delay));
}

io_lanes::~io_lanes() {
  stop();
}

io_lane& io_lanes::next() {
  return *lanes_[next_.fetch_add(1, std::memory_order_relaxed) % lanes_.size()];
}

io_lane* io_lanes::lane_of(const net::any_io_executor& executor) {
  auto& ctx = net::query(executor, net::execution::context);
  for (auto& lane : lanes_)
    if (&lane->context() == &ctx)
      return lane.get();
  return nullptr;
}

void io_lanes::start() {
  for (auto& lane : lanes_)
    threads_.emplace_back([l = lane.get()] { l->run(); });
}

void io_lanes::stop() {
  for (auto& lane : lanes_)
    lane->stop();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  threads_.clear();
}

} // namespace parley
