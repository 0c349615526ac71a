#include "runtime/ws_session.hpp"

#include <boost/beast/websocket/ssl.hpp>
#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/connection.hpp"
#include "protocol/close_code.hpp"

namespace parley {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

/// docs/protocol.md "Limits": a message (reassembled frames) over 64 KiB closes with 1009.
constexpr size_t max_message_bytes = 64 * 1024;

/// Bytes read per step; most chat frames fit in one.
constexpr size_t read_step_bytes = 512;

template <class Stream>
ws_session<Stream>::ws_session(Stream&& stream, server_context& ctx, jwt_claims claims)
  : ws_(std::move(stream)),
    ctx_(ctx),
    claims_(claims),
    id_(ctx.next_connection_id++),
    lane_(ctx.lanes ? ctx.lanes->lane_of(ws_.get_executor()) : nullptr),
    queue_(outbound_queue::limits{ctx.config.outbound_queue, 4u << 20}) {
  ++ctx_.open_connections;
  ctx_.node->env.metrics->connections_accepted->Increment();
}

template <class Stream>
ws_session<Stream>::~ws_session() {
  --ctx_.open_connections;
}

template <class Stream>
void ws_session<Stream>::run(request req) {
  ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws_.read_message_max(max_message_bytes);
  ws_.auto_fragment(false);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
    res.set(beast::http::field::server, "parley");
  }));
  // Control frames (ping/pong) count as activity for the idle timer.
  std::weak_ptr<ws_session> weak = shared_from_this();
  ws_.control_callback([weak](websocket::frame_type kind, beast::string_view) {
    if (auto self = weak.lock(); self && self->actor_ && kind != websocket::frame_type::close)
      caf::anon_send(self->actor_, activity_atom::value);
  });
  ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept, shared_from_this()));
}

template <class Stream>
void ws_session<Stream>::on_accept(beast::error_code ec) {
  if (ec)
    return;
  principal who{claims_.workspace, claims_.user};
  actor_ = ctx_.system.spawn(connection, ctx_.node->for_connections, id_, who, claims_.exp,
                             std::static_pointer_cast<outbound_sink>(shared_from_this()));
  do_read();
}

template <class Stream>
void ws_session<Stream>::do_read() {
  // Reads in small steps: a whole-message read reserves 1.5 KiB in buffer_ while it waits,
  // which an idle connection would hold forever.
  ws_.async_read_some(buffer_, read_step_bytes,
                      beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
}

template <class Stream>
void ws_session<Stream>::on_read(beast::error_code ec, size_t) {
  if (!ec && !ws_.is_message_done()) {
    do_read();
    return;
  }
  if (ec) {
    // Closed by the peer, by us, or failed (Beast already sent 1009 for an oversized message
    // and 1007 for invalid UTF-8 in a text message).
    notify_closed();
    return;
  }
  if (!ws_.got_text()) {
    buffer_.consume(buffer_.size());
    start_close(close_code::unsupported, "binary frames are not supported");
    do_read();
    return;
  }
  if (actor_ && !close_requested_)
    caf::anon_send(actor_, frame_atom::value, beast::buffers_to_string(buffer_.data()));
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > read_step_bytes)
    buffer_.shrink_to_fit(); // a large message's buffer is not kept
  do_read();
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
  net::post(ws_.get_executor(),
            [self = shared_from_this(), frame = std::move(frame), channel, seq, acked_ns] {
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
void ws_session<Stream>::observe_written(const frame_ptr& frame) {
  // Frames are written in queue order, so a stamp before the written one was dropped.
  for (size_t i = 0; i < stamps_.size(); ++i) {
    if (stamps_[i].first != frame.get())
      continue;
    auto took = (steady_ns() - stamps_[i].second) / 1e9;
    ctx_.node->env.metrics->delivery_latency.observe(took);
    stamps_.erase(stamps_.begin(), stamps_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    return;
  }
}

template <class Stream>
void ws_session<Stream>::push_control(frame_ptr frame) {
  net::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)] {
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
  net::post(ws_.get_executor(), [self = shared_from_this()] { self->held_ = true; });
}

template <class Stream>
void ws_session<Stream>::release(std::vector<frame_ptr> first) {
  net::post(ws_.get_executor(), [self = shared_from_this(), first = std::move(first)]() mutable {
    self->preface_ = std::move(first);
    self->held_ = false;
    self->maybe_write();
  });
}

template <class Stream>
void ws_session<Stream>::close(uint16_t code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
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
  if (!writing_)
    maybe_write();
}

template <class Stream>
void ws_session<Stream>::maybe_write() {
  if (writing_ || held_ || close_sent_)
    return;
  batch_.clear();
  batch_pos_ = 0;
  batch_.swap(preface_);
  for (auto& f : queue_.take_all())
    batch_.push_back(std::move(f));
  if (batch_.empty()) {
    if (close_requested_)
      do_close();
    return;
  }
  writing_ = true;
  write_next();
}

template <class Stream>
void ws_session<Stream>::write_next() {
  ws_.text(true);
  ws_.async_write(net::buffer(*batch_[batch_pos_]),
                  [self = shared_from_this()](beast::error_code ec, size_t) {
                    if (ec) {
                      self->writing_ = false;
                      self->batch_.clear();
                      return; // the read side reports the close
                    }
                    if (!self->stamps_.empty())
                      self->observe_written(self->batch_[self->batch_pos_]);
                    if (++self->batch_pos_ < self->batch_.size()) {
                      self->write_next();
                      return;
                    }
                    self->writing_ = false;
                    self->batch_.clear();
                    self->maybe_write();
                  });
}

template <class Stream>
void ws_session<Stream>::do_close() {
  if (close_sent_)
    return;
  close_sent_ = true;
  websocket::close_reason why;
  why.code = close_code_;
  why.reason = close_reason_;
  ws_.async_close(why,
                  [self = shared_from_this()](beast::error_code) {
                    // The pending read completes with `closed` and notifies the actor.
                  });
}

template class ws_session<plain_stream>;
template class ws_session<tls_stream>;

} // namespace parley
