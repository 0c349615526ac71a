#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/asio/steady_timer.hpp>

#include "actors/interfaces.hpp"
#include "actors/outbound_sink.hpp"
#include "protocol/jwt.hpp"
#include "protocol/outbound_queue.hpp"
#include "protocol/ws_codec.hpp"
#include "runtime/io_lanes.hpp"
#include "runtime/server_context.hpp"
#include "runtime/session_stream.hpp"

namespace parley {

/// One WebSocket connection over `Stream` (plain_stream or tls_stream) on its Asio lane
/// (runtime/io_lanes.hpp): reads frames into its connection actor and writes the actor's (and
/// gateway's) frames from a bounded single-writer queue. The framing is protocol/ws_codec.hpp
/// on the raw stream, so everything queued for a connection leaves in one gathered write
/// (Beast's WebSocket stream writes one message per operation, a syscall per frame).
template <class Stream>
class ws_session : public lane_bound_sink, public std::enable_shared_from_this<ws_session<Stream>> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  ws_session(ws_transport<Stream>&& stream, server_context& ctx, jwt_claims claims);
  ~ws_session() override;

  /// Completes the upgrade and starts the connection actor.
  void run(request req);

  void push_message(frame_ptr frame, channel_id channel, uint64_t seq) override;
  void push_message(frame_ptr frame, channel_id channel, uint64_t seq, int64_t acked_ns) override;
  void push_control(frame_ptr frame) override;
  void hold() override;
  void release(std::vector<frame_ptr> first) override;
  void close(uint16_t code, std::string reason) override;
  fanout_lane* lane() const override { return lane_; }
  void push_message_here(const frame_ptr& frame, channel_id channel, uint64_t seq,
                         int64_t acked_ns) override;

private:
  using std::enable_shared_from_this<ws_session>::shared_from_this;

  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_readable(boost::beast::error_code ec);
  void on_read(boost::beast::error_code ec, size_t bytes);
  size_t parse(const char* data, size_t size, bool& go_on); // the bytes consumed
  bool handle(ws_event& event); // false: stop reading
  void maybe_write();
  void start_write();
  void check_writable();
  void on_written(boost::beast::error_code ec);
  void set_backed_up(bool on);
  void arm_write_deadline();
  void on_timer(boost::beast::error_code ec);
  void give_up_write();
  void start_close(uint16_t code, std::string reason);
  void finish();
  void notify_closed();
  void observe_written();

  ws_transport<Stream> stream_;
  server_context& ctx_;
  jwt_claims claims_;
  uint64_t id_;
  connection_actor actor_;
  io_lane* lane_; // null: not on a lane (pushes hop one by one)

  // Read state.
  ws_reader reader_;
  std::vector<char> rbuf_; // [0, rlen_) read and not yet parsed; empty while idle (plain)
  size_t rlen_ = 0;
  bool reading_stopped_ = false; // after a close frame or a protocol violation

  // Write state (the lane's thread only).
  outbound_queue queue_;
  std::vector<frame_ptr> preface_;
  std::vector<frame_ptr> batch_;                  // the frames of the write in flight
  std::vector<std::array<char, 10>> headers_;     // their frame headers
  std::vector<boost::asio::const_buffer> gather_; // headers, payloads and control frames
  std::string control_;                           // the handshake or a pong, written first
  std::string closing_;                           // the close frame, written last
  std::string pong_payload_;
  bool pong_due_ = false;
  bool held_ = false;
  bool writing_ = false;
  bool close_requested_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool finished_ = false;
  // The kernel refused bytes of the write in flight: counted in the node's sockets_backed_up
  // from the refusal until that write completes or the session ends (never longer).
  bool backed_up_ = false;
  bool write_checked_ = false; // TLS: this write's socket was polled for room already
  std::chrono::steady_clock::time_point write_started_; // of the write in flight
  uint16_t close_code_ = 1000;
  std::string close_reason_;
  // One deadline at a time, created only when needed: the write in flight must complete by
  // write-timeout-ms after it started (armed once it waits for the socket), then, after our close
  // frame is out, the peer must answer it within close_grace.
  std::unique_ptr<boost::asio::steady_timer> timer_;
  // Ack times of queued message.new frames, oldest first, for the delivery latency histogram.
  // At most as many as the queue holds droppable frames: older entries were dropped.
  std::vector<std::pair<const std::string*, int64_t>> stamps_; // bounded by the queue limit
};

extern template class ws_session<plain_stream>;
extern template class ws_session<tls_stream>;

} // namespace parley
