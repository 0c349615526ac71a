#include "runtime/ws_session.hpp"

#include <poll.h>

#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/connection.hpp"
#include "actors/log.hpp"
#include "protocol/close_code.hpp"

namespace parley {

namespace beast = boost::beast;
namespace net = boost::asio;

/// docs/protocol.md "Limits": a message (reassembled frames) over 64 KiB closes with 1009.
constexpr size_t max_message_bytes = 64 * 1024;

/// The read buffer of an idle TLS connection; it grows while a bigger message arrives and
/// shrinks back once it is parsed, so idle connections stay small. A plain connection keeps
/// no read buffer while idle: it waits until its socket is readable and reads into its
/// lane's scratch buffer, keeping only the bytes of an incomplete frame.
constexpr size_t idle_read_bytes = 256;
constexpr size_t max_read_bytes = max_message_bytes + 14; // one whole frame and its header

/// The gathered buffers of one write as a view: async_write copies its buffer sequence, and
/// copying the vector would allocate once per write. The vector stays untouched until the
/// write completes.
struct gathered_view {
  using value_type = net::const_buffer;
  using const_iterator = const net::const_buffer*;
  const_iterator first;
  const_iterator last;
  const_iterator begin() const { return first; }
  const_iterator end() const { return last; }
};

/// How long a peer has to answer our close frame before the socket is closed anyway.
constexpr auto close_grace = std::chrono::seconds(5);

template <class Stream>
ws_session<Stream>::ws_session(ws_transport<Stream>&& stream, server_context& ctx, jwt_claims claims)
  : stream_(std::move(stream)),
    ctx_(ctx),
    claims_(claims),
    id_(ctx.next_connection_id++),
    lane_(ctx.lanes ? ctx.lanes->lane_of(stream_.get_executor()) : nullptr),
    reader_(max_message_bytes),
    queue_(outbound_queue::limits{ctx.config.outbound_queue, 4u << 20}) {
  ++ctx_.open_connections;
  ctx_.node->env.metrics->connections_accepted->Increment();
}

template <class Stream>
ws_session<Stream>::~ws_session() {
  set_backed_up(false); // a write still out when the lane stopped
  --ctx_.open_connections;
}

template <class Stream>
void ws_session<Stream>::run(request req) {
  // http_session checked the upgrade (version 13, a key): switch protocols.
  auto key = req[beast::http::field::sec_websocket_key];
  control_ = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Server: parley\r\nSec-WebSocket-Accept: "
             + ws_accept_key(std::string_view(key.data(), key.size())) + "\r\n\r\n";
  net::async_write(stream_, net::buffer(control_),
                   [self = this->shared_from_this()](beast::error_code ec, size_t) {
                     self->control_.clear();
                     self->control_.shrink_to_fit();
                     self->on_accept(ec);
                   });
}

template <class Stream>
void ws_session<Stream>::on_accept(beast::error_code ec) {
  if (ec) {
    finish();
    return;
  }
  principal who{claims_.workspace, claims_.user};
  actor_ = ctx_.system.spawn(connection, ctx_.node->for_connections, id_, who, claims_.exp,
                             std::static_pointer_cast<outbound_sink>(this->shared_from_this()));
  do_read();
}

template <class Stream>
void ws_session<Stream>::do_read() {
  auto self = this->shared_from_this();
  if constexpr (!is_tls_stream<Stream>) {
    if (rlen_ == 0) {
      stream_.async_wait(net::socket_base::wait_read,
                         beast::bind_front_handler(&ws_session::on_readable, self));
      return;
    }
  }
  if (rlen_ == rbuf_.size()) // full: a frame bigger than the buffer is arriving
    rbuf_.resize(std::min(max_read_bytes, std::max(idle_read_bytes, rbuf_.size() * 2)));
  stream_.async_read_some(net::buffer(rbuf_.data() + rlen_, rbuf_.size() - rlen_),
                          beast::bind_front_handler(&ws_session::on_read, self));
}

/// A plain connection with nothing buffered became readable: read into the lane's scratch
/// buffer and keep only an incomplete frame's bytes.
template <class Stream>
void ws_session<Stream>::on_readable(beast::error_code ec) {
  if constexpr (!is_tls_stream<Stream>) {
    if (ec) {
      finish();
      return;
    }
    thread_local std::vector<char> scratch(max_read_bytes);
    if (!stream_.non_blocking())
      stream_.non_blocking(true, ec);
    auto bytes = ec ? 0 : stream_.read_some(net::buffer(scratch), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) {
      do_read(); // a spurious wake-up
      return;
    }
    if (ec) {
      finish();
      return;
    }
    bool go_on = true;
    auto pos = parse(scratch.data(), bytes, go_on);
    if (!go_on) {
      reading_stopped_ = true;
      return;
    }
    rbuf_.assign(scratch.begin() + static_cast<std::ptrdiff_t>(pos),
                 scratch.begin() + static_cast<std::ptrdiff_t>(bytes));
    rlen_ = rbuf_.size();
    do_read();
  }
}

template <class Stream>
size_t ws_session<Stream>::parse(const char* data, size_t size, bool& go_on) {
  size_t pos = 0;
  while (go_on) {
    size_t used = 0;
    auto event = reader_.next(data + pos, size - pos, used);
    pos += used;
    if (event.what == ws_event::kind::need_more) {
      if (used == 0)
        break;
      continue;
    }
    go_on = handle(event);
  }
  return pos;
}

template <class Stream>
void ws_session<Stream>::on_read(beast::error_code ec, size_t bytes) {
  if (ec) {
    // Closed by the peer, by us, or failed.
    finish();
    return;
  }
  rlen_ += bytes;
  // TLS: a peer that keeps sending while our write is out gets that write a deadline too, even
  // when nothing else is due (it may only send pongs, which nothing answers).
  if constexpr (is_tls_stream<Stream>)
    if (writing_)
      check_writable();
  bool go_on = true;
  auto pos = parse(rbuf_.data(), rlen_, go_on);
  if (!go_on) {
    reading_stopped_ = true;
    return;
  }
  std::copy(rbuf_.begin() + static_cast<std::ptrdiff_t>(pos),
            rbuf_.begin() + static_cast<std::ptrdiff_t>(rlen_), rbuf_.begin());
  rlen_ -= pos;
  if (rlen_ == 0) { // a large message's buffer is not kept
    if (!is_tls_stream<Stream>)
      rbuf_ = {};
    else if (rbuf_.size() > idle_read_bytes)
      rbuf_.resize(idle_read_bytes);
    rbuf_.shrink_to_fit();
  }
  do_read();
}

template <class Stream>
bool ws_session<Stream>::handle(ws_event& event) {
  switch (event.what) {
    case ws_event::kind::text:
      if (actor_ && !close_requested_)
        caf::anon_send(actor_, frame_atom::value, std::move(event.payload));
      return true;
    case ws_event::kind::ping:
      // Only the latest ping needs an answer (RFC 6455 section 5.5.3).
      pong_payload_ = std::move(event.payload);
      pong_due_ = true;
      maybe_write();
      [[fallthrough]];
    case ws_event::kind::pong:
      // Control frames count as activity for the idle timer.
      if (actor_)
        caf::anon_send(actor_, activity_atom::value);
      return true;
    case ws_event::kind::close:
      // Answered right away with the same code; what is still queued is not sent.
      peer_closed_ = true;
      queue_.take_all();
      preface_.clear();
      start_close(event.code == close_code::no_status ? close_code::normal : event.code, "");
      break;
    case ws_event::kind::fail:
      start_close(event.code, std::move(event.payload));
      break;
    case ws_event::kind::need_more:
      return true;
  }
  // Nothing more is read. If our close frame went out earlier (we closed first), this was
  // the answer to it or the last straw: done.
  if (close_sent_ && !writing_)
    finish();
  return false;
}

template <class Stream>
void ws_session<Stream>::finish() {
  if (!finished_) {
    finished_ = true;
    if (timer_)
      timer_->cancel();
    beast::error_code ignored;
    auto& socket = tcp_socket_of(stream_);
    socket.shutdown(net::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
  notify_closed();
}

template <class Stream>
void ws_session<Stream>::notify_closed() {
  if (actor_) {
    caf::anon_send(actor_, closed_atom::value);
    actor_ = nullptr; // breaks the session <-> actor cycle
  }
}

// -- outbound_sink: every call hops onto the session's lane ---------------------------------

template <class Stream>
void ws_session<Stream>::push_message(frame_ptr frame, channel_id channel, uint64_t seq) {
  push_message(std::move(frame), channel, seq, 0);
}

template <class Stream>
void ws_session<Stream>::push_message(frame_ptr frame, channel_id channel, uint64_t seq,
                                      int64_t acked_ns) {
  net::post(stream_.get_executor(),
            [self = this->shared_from_this(), frame = std::move(frame), channel, seq, acked_ns] {
              self->push_message_here(frame, channel, seq, acked_ns);
            });
}

template <class Stream>
void ws_session<Stream>::push_message_here(const frame_ptr& frame, channel_id channel,
                                           uint64_t seq, int64_t acked_ns) {
  if (close_requested_)
    return;
  if (queue_.push_message(frame, channel, seq) == outbound_queue::push_result::dropped_oldest)
    ctx_.node->env.metrics->dropped_frames->Increment();
  if (acked_ns != 0) {
    stamps_.emplace_back(frame.get(), acked_ns);
    if (stamps_.size() > ctx_.config.outbound_queue + 1)
      stamps_.erase(stamps_.begin());
  }
  maybe_write();
}

template <class Stream>
void ws_session<Stream>::observe_written() {
  // Frames are written in queue order, so a stamp before a written one was dropped.
  size_t next = 0;
  auto now = steady_ns();
  for (auto& frame : batch_) {
    for (size_t i = next; i < stamps_.size(); ++i) {
      if (stamps_[i].first != frame.get())
        continue;
      ctx_.node->env.metrics->delivery_latency.observe((now - stamps_[i].second) / 1e9);
      next = i + 1;
      break;
    }
  }
  stamps_.erase(stamps_.begin(), stamps_.begin() + static_cast<std::ptrdiff_t>(next));
}

template <class Stream>
void ws_session<Stream>::push_control(frame_ptr frame) {
  net::post(stream_.get_executor(), [self = this->shared_from_this(), frame = std::move(frame)] {
    if (self->close_requested_)
      return;
    if (self->queue_.push_control(frame) == outbound_queue::push_result::overflow) {
      self->start_close(close_code::try_later, "client is not reading");
      return;
    }
    self->maybe_write();
  });
}

template <class Stream>
void ws_session<Stream>::hold() {
  net::post(stream_.get_executor(), [self = this->shared_from_this()] { self->held_ = true; });
}

template <class Stream>
void ws_session<Stream>::release(std::vector<frame_ptr> first) {
  net::post(stream_.get_executor(),
            [self = this->shared_from_this(), first = std::move(first)]() mutable {
              self->preface_ = std::move(first);
              self->held_ = false;
              self->maybe_write();
            });
}

template <class Stream>
void ws_session<Stream>::close(uint16_t code, std::string reason) {
  net::post(stream_.get_executor(),
            [self = this->shared_from_this(), code, reason = std::move(reason)] {
              self->start_close(code, reason);
            });
}

template <class Stream>
void ws_session<Stream>::start_close(uint16_t code, std::string reason) {
  if (close_requested_)
    return;
  close_requested_ = true;
  close_code_ = code;
  close_reason_ = std::move(reason);
  held_ = false;
  if (code == close_code::try_later) {
    // The client stopped reading: what is queued will never drain.
    queue_.take_all();
    preface_.clear();
    stamps_.clear();
  }
  maybe_write();
}

/// One gathered write of everything due: a pong, the queued frames in order, and after the
/// last of them the close frame.
template <class Stream>
void ws_session<Stream>::maybe_write() {
  if (finished_)
    return;
  if (writing_) {
    if constexpr (is_tls_stream<Stream>)
      check_writable();
    return;
  }
  gather_.clear();
  if (pong_due_ && !close_sent_) {
    pong_due_ = false;
    control_ = ws_frame(ws_opcode::pong, pong_payload_);
    gather_.push_back(net::buffer(control_));
  }
  if (!held_) {
    batch_.swap(preface_);
    queue_.take_all(batch_);
    headers_.resize(batch_.size());
    for (size_t i = 0; i < batch_.size(); ++i) {
      auto n = ws_frame_header(ws_opcode::text, batch_[i]->size(), headers_[i]);
      gather_.push_back(net::buffer(headers_[i].data(), n));
      gather_.push_back(net::buffer(*batch_[i]));
    }
    if (close_requested_ && !close_sent_) {
      close_sent_ = true;
      closing_ = ws_frame(ws_opcode::close, ws_close_payload(close_code_, close_reason_));
      gather_.push_back(net::buffer(closing_));
    }
  }
  if (gather_.empty())
    return;
  writing_ = true;
  write_started_ = std::chrono::steady_clock::now();
  start_write();
}

/// Starts the write of `gather_`. A plain session sends what the kernel takes right away
/// itself (the send async_write would try first anyway); bytes the kernel refuses mean the
/// socket's send buffer is full: the session is backed up until the rest has gone out.
template <class Stream>
void ws_session<Stream>::start_write() {
  gathered_view all{gather_.data(), gather_.data() + gather_.size()};
  auto self = this->shared_from_this();
  if constexpr (!is_tls_stream<Stream>) {
    beast::error_code ec;
    if (!stream_.non_blocking())
      stream_.non_blocking(true, ec);
    beast::buffers_suffix<gathered_view> rest{all};
    auto left = net::buffer_size(all);
    size_t n = 0;
    // Asio sends at most 64 buffers per call: loop until all is sent or the kernel refuses.
    while (left > 0 && !ec && (n = stream_.write_some(rest, ec)) > 0) {
      rest.consume(n);
      left -= n;
    }
    if (left == 0 || (ec && ec != net::error::would_block && ec != net::error::try_again)) {
      // Done or failed: complete from the lane's queue as async_write would, so frames pushed
      // meanwhile are coalesced into the next write.
      net::post(stream_.get_executor(), [self, ec] { self->on_written(ec); });
      return;
    }
    set_backed_up(true);
    arm_write_deadline();
    net::async_write(stream_, rest,
                     [self](beast::error_code write_ec, size_t) { self->on_written(write_ec); });
  } else {
    net::async_write(stream_, all,
                     [self](beast::error_code ec, size_t) { self->on_written(ec); });
  }
}

/// TLS: the SSL engine hides short writes, so when more is due while a write is still out, the
/// socket itself is asked, once per write, whether the kernel would take bytes now (POLLOUT
/// clears when its send buffer is full, `sk_stream_is_writeable`). That write gets its deadline
/// then whatever the answer: the socket may have room now and none a moment later, and this is
/// the write's only check.
template <class Stream>
void ws_session<Stream>::check_writable() {
  if (backed_up_ || write_checked_)
    return;
  write_checked_ = true;
  pollfd p{tcp_socket_of(stream_).native_handle(), POLLOUT, 0};
  if (::poll(&p, 1, 0) == 0)
    set_backed_up(true);
  arm_write_deadline();
}

/// The one place sessions move the node's count of full sockets (actors/node_counters.hpp):
/// each session adds at most one, and takes it back on the same flag.
template <class Stream>
void ws_session<Stream>::set_backed_up(bool on) {
  if (backed_up_ == on)
    return;
  backed_up_ = on;
  ctx_.node->env.counters->sockets_backed_up.fetch_add(on ? 1 : -1, std::memory_order_relaxed);
}

/// Gives the write in flight until write-timeout-ms after its start to complete (0: forever).
/// Armed only for writes known to wait (a plain socket refused bytes; a TLS write still out when
/// more is due, the peer sends, or the session closes), so a session whose writes complete at
/// once never holds a timer. A TLS write stuck with none of those happening is caught when the
/// connection's idle timeout closes it.
template <class Stream>
void ws_session<Stream>::arm_write_deadline() {
  auto timeout = ctx_.config.write_timeout;
  if (timeout.count() == 0)
    return;
  if (!timer_)
    timer_ = std::make_unique<net::steady_timer>(stream_.get_executor());
  timer_->expires_at(write_started_ + timeout);
  timer_->async_wait(
    [self = this->shared_from_this()](beast::error_code ec) { self->on_timer(ec); });
}

template <class Stream>
void ws_session<Stream>::on_timer(beast::error_code ec) {
  // A wait that was due when its timer was cancelled, replaced or re-armed still lands here
  // without an error: only the current timer's own expiry counts.
  if (ec || finished_ || !timer_ || timer_->expiry() > std::chrono::steady_clock::now())
    return;
  if (writing_)
    give_up_write();
  else
    finish(); // our close frame went out and the peer did not answer it
}

/// The peer has taken none of a write for write-timeout-ms: nothing more can reach it, not even
/// a close frame or a TLS close_notify, which would queue behind the stuck bytes. Reset the
/// connection: with SO_LINGER 0 the close sends RST and frees the kernel's send buffer at once
/// (a FIN would wait behind the unsent bytes). finish() tells the connection actor; the write in
/// flight then fails and on_written takes the session off the backed-up count.
template <class Stream>
void ws_session<Stream>::give_up_write() {
  ctx_.node->env.counters->write_stalls.fetch_add(1, std::memory_order_relaxed);
  if (log_enabled(log_level::debug))
    log(log_level::debug, "write stalled: connection reset",
        {{"connection", std::to_string(id_)}});
  beast::error_code ignored;
  tcp_socket_of(stream_).set_option(net::socket_base::linger(true, 0), ignored);
  finish();
}

template <class Stream>
void ws_session<Stream>::on_written(beast::error_code ec) {
  writing_ = false;
  set_backed_up(false);
  write_checked_ = false;
  timer_.reset(); // this write's deadline; an idle session keeps no timer
  if (!stamps_.empty())
    observe_written();
  batch_.clear();
  control_.clear();
  if (headers_.capacity() > 64) {
    headers_ = {}; // a burst's buffers are not kept by an idle connection
    gather_ = {};
  }
  if (ec) {
    finish(); // the pending read ends too and reports the close
    return;
  }
  if (!close_sent_) {
    maybe_write();
    return;
  }
  // Our close frame is out: done if the peer closed first or will not be read any more,
  // else wait a little for its answer (the read then fails and finishes).
  if (peer_closed_ || reading_stopped_) {
    finish();
    return;
  }
  timer_ = std::make_unique<net::steady_timer>(stream_.get_executor(), close_grace);
  timer_->async_wait(
    [self = this->shared_from_this()](beast::error_code timer_ec) { self->on_timer(timer_ec); });
}

template class ws_session<plain_stream>;
template class ws_session<tls_stream>;

} // namespace parley
