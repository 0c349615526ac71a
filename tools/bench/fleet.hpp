#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "tools/bench/frame_scan.hpp"
#include "tools/bench/options.hpp"
#include "tools/bench/target_protocol.hpp"

namespace parley::bench {

using steady = std::chrono::steady_clock;

/// Nanoseconds on the steady clock; CLOCK_MONOTONIC is shared by every process on the
/// machine, so forked workers can compare their timestamps with the sender's.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch())
    .count();
}

/// What the clients of a fleet see; implemented by each scenario.
class fleet_observer {
public:
  virtual ~fleet_observer() = default;
  /// `client` joined: Parley's hello_ack (the whole frame, for the channel list) or the
  /// peer's join acknowledgement.
  virtual void on_ready(size_t client, std::string_view hello_ack) {}
  /// Any other frame, with the time it was read.
  virtual void on_frame(size_t client, const scanned_frame& f, std::string_view raw,
                        int64_t recv_ns) = 0;
  /// A ready client's connection ended (close frame, reset, write error).
  virtual void on_closed(size_t client, const std::string& why) {}
};

/// How a fleet reaches the nodes.
struct fleet_config {
  std::vector<node_address> nodes;                  // clients go round robin by global index
  target_kind target = target_kind::parley;
  std::string workspace;
  std::string secret;
  double connect_rate = 500;                        // connects started per second
  size_t max_pending = 256;                         // connects in flight
  std::chrono::milliseconds connect_timeout{15000}; // TCP connect to hello_ack
  std::vector<std::string> source_ips;              // bind round robin when not empty
};

class fleet;

/// One WebSocket client: TCP connect, upgrade with a user token, hello, then a read loop and
/// a single-writer queue. Owned by its fleet; handlers capture `this`, and the fleet drains
/// them before destroying clients.
class ws_client {
public:
  enum class state { idle, connecting, waiting_ack, ready, closed };

  ws_client(boost::asio::io_context& io, fleet& owner, size_t index, uint64_t user,
            std::string room, size_t global_index);

  /// Starts connecting; the fleet hears back through on_client_*.
  void start(const boost::asio::ip::tcp::endpoint& target,
             const std::optional<boost::asio::ip::address>& source, const std::string& host_header,
             const std::string& path);

  /// Queues a text frame; dropped when the client is not open.
  void send(std::shared_ptr<const std::string> frame);

  /// Closes the socket without a close handshake.
  void abort();

  /// Closes the socket and tells the fleet why (once).
  void fail(const std::string& why);

  state st = state::idle;
  uint64_t user;
  std::string room;      // peers: the room joined after the upgrade
  size_t global_index;   // index over every process of the run: picks node and source
  int64_t started_ns = 0;

private:
  void on_connect(boost::beast::error_code ec);
  void on_handshake(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, size_t bytes);
  void do_write();
  void on_write(boost::beast::error_code ec, size_t bytes);

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  boost::beast::flat_buffer buffer_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  bool writing_ = false;
  std::string host_header_, path_;
  fleet& owner_;
  size_t index_;
};

/// A set of clients driven by one io_context on the calling thread: rate-bounded connects
/// with a progress line, application pings so idle receivers are not closed after 30 s,
/// and bounded run loops.
class fleet {
public:
  fleet(boost::asio::io_context& io, fleet_config cfg, fleet_observer& observer);
  ~fleet();
  fleet(const fleet&) = delete;
  fleet& operator=(const fleet&) = delete;

  /// Adds a client for user number `user` (peers: joining `room`); `global_index` is its
  /// number over all worker processes and picks its node and source address round robin.
  /// Returns its local index.
  size_t add(uint64_t user, std::string room, size_t global_index);
  size_t add(uint64_t user) { return add(user, "", clients_.size()); }
  const target_protocol& protocol() const { return proto_; }
  size_t size() const { return clients_.size(); }
  bool ready(size_t client) const { return clients_[client]->st == ws_client::state::ready; }
  size_t ready_count() const { return ready_; }

  /// Outcome of the connect phase, for the clients it started.
  struct connect_report {
    size_t ready = 0, failed = 0;
    double seconds = 0;
    std::map<std::string, size_t> failures;  // reason -> count
  };

  /// Connects every client added since the previous call (all of them, the first time) at the
  /// configured rate, printing a progress line on stderr (or calling progress_hook instead, in
  /// workers); returns when each one is ready or failed.
  connect_report connect_all();

  /// Closes one client's socket without a close handshake; it no longer counts as ready and
  /// the observer hears nothing of it.
  void close(size_t client);

  /// Replaces the connect progress line: called with ready, failed, in flight.
  std::function<void(size_t, size_t, size_t)> progress_hook;

  /// Called when a ready client closes (workers report their ready count).
  std::function<void()> on_close_hook;

  /// Runs the io_context until `done()` holds or `deadline` passes; returns done().
  template <class Pred>
  bool run_until(Pred&& done, steady::time_point deadline) {
    while (!done()) {
      if (steady::now() >= deadline)
        return false;
      step();
    }
    return true;
  }

  /// Runs for `d`, whatever happens.
  void run_for(steady::duration d) {
    auto until = steady::now() + d;
    run_until([&] { return steady::now() >= until; }, until + std::chrono::seconds(1));
  }

  /// Waits until no frame arrived for `quiet`, at most `max`; returns whether it got quiet.
  bool settle(steady::duration quiet, steady::duration max);

  /// Queues a frame on `client` (ignored unless ready).
  void send(size_t client, std::shared_ptr<const std::string> frame);

  /// Closes every socket and runs the cancelled handlers.
  void close_all();

  /// Frames received per kind, over the fleet's life.
  const std::array<uint64_t, frame_kinds>& frames_by_kind() const { return frames_by_kind_; }
  uint64_t closed_after_ready() const { return closed_after_ready_; }
  const std::map<std::string, size_t>& close_reasons() const { return close_reasons_; }
  uint64_t unparsed_frames() const { return unparsed_; }

private:
  friend class ws_client;
  void on_client_frame(size_t index, std::string_view raw, int64_t recv_ns);
  void on_client_failed(size_t index, const std::string& was, const std::string& why);
  void step();
  void start_connects();
  void check_timeouts_and_ping();

  boost::asio::io_context& io_;
  fleet_config cfg_;
  fleet_observer& observer_;
  std::vector<std::unique_ptr<ws_client>> clients_;
  std::vector<boost::asio::ip::tcp::endpoint> targets_;
  std::vector<std::string> host_headers_;
  std::vector<boost::asio::ip::address> sources_;
  target_protocol proto_;
  std::shared_ptr<const std::string> ping_;

  // connect phase
  bool connecting_ = false;
  steady::time_point connect_start_;
  size_t first_to_start_ = 0;  // the first client of the current connect_all
  size_t next_to_start_ = 0, pending_ = 0, ready_ = 0, failed_ = 0;
  std::map<std::string, size_t> failures_;

  // housekeeping
  steady::time_point next_housekeeping_;
  size_t ping_cursor_ = 0;
  int64_t last_frame_ns_ = 0;
  std::array<uint64_t, frame_kinds> frames_by_kind_{};
  uint64_t unparsed_ = 0, closed_after_ready_ = 0;
  std::map<std::string, size_t> close_reasons_;
};

} // namespace parley::bench
