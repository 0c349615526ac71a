#include "runtime/ws_session.hpp"

#include <caf/send.hpp>

#include "actors/atoms.hpp"
#include "actors/connection.hpp"

namespace parley {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;

/// DESIGN.md "Limits": a message (reassembled frames) over 64 KiB closes with 1009.
constexpr size_t max_message_bytes = 64 * 1024;

ws_session::ws_session(net::ip::tcp::socket&& socket, server_context& ctx, jwt_claims claims)
  : ws_(std::move(socket)),
    ctx_(ctx),
    claims_(claims),
    id_(ctx.next_connection_id++),
    queue_(outbound_queue::limits{ctx.config.outbound_queue, 4u << 20}) {
  ++ctx_.open_connections;
  ctx_.node->metrics->connections_accepted->Increment();
}

ws_session::~ws_session() {
  --ctx_.open_connections;
}

void ws_session::run(request req) {
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

void ws_session::on_accept(beast::error_code ec) {
  if (ec)
    return;
  principal who{claims_.workspace, claims_.user};
  actor_ = ctx_.system.spawn(connection, ctx_.node, id_, who, claims_.exp,
                             std::static_pointer_cast<outbound_sink>(shared_from_this()));
  do_read();
}

void ws_session::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read, shared_from_this()));
}

void ws_session::on_read(beast::error_code ec, size_t) {
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
  do_read();
}

void ws_session::notify_closed() {
  if (actor_) {
    caf::anon_send(actor_, closed_atom::value);
    actor_ = nullptr; // breaks the session <-> actor cycle
  }
}

// -- outbound_sink: every call hops onto the strand ----------------------------------------

void ws_session::push_message(frame_ptr frame, channel_id channel, uint64_t seq) {
  push_message(std::move(frame), channel, seq, 0);
}

void ws_session::push_message(frame_ptr frame, channel_id channel, uint64_t seq,
                              int64_t acked_ns) {
  net::post(ws_.get_executor(),
            [self = shared_from_this(), frame = std::move(frame), channel, seq, acked_ns] {
              if (self->close_requested_)
                return;
              if (self->queue_.push_message(frame, channel, seq)
                  == outbound_queue::push_result::dropped_oldest)
                self->ctx_.node->metrics->dropped_frames->Increment();
              if (acked_ns != 0) {
                self->stamps_.emplace_back(frame.get(), acked_ns);
                if (self->stamps_.size() > self->ctx_.config.outbound_queue + 1)
                  self->stamps_.pop_front();
              }
              self->maybe_write();
            });
}

void ws_session::observe_written(const frame_ptr& frame) {
  // Frames are written in queue order, so a stamp before the written one was dropped.
  for (size_t i = 0; i < stamps_.size(); ++i) {
    if (stamps_[i].first != frame.get())
      continue;
    auto took = (steady_ns() - stamps_[i].second) / 1e9;
    ctx_.node->metrics->delivery_latency.observe(took);
    stamps_.erase(stamps_.begin(), stamps_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
    return;
  }
}

void ws_session::push_control(frame_ptr frame) {
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

void ws_session::hold() {
  net::post(ws_.get_executor(), [self = shared_from_this()] { self->held_ = true; });
}

void ws_session::release(std::vector<frame_ptr> first) {
  net::post(ws_.get_executor(), [self = shared_from_this(), first = std::move(first)]() mutable {
    self->preface_ = std::move(first);
    self->held_ = false;
    self->maybe_write();
  });
}

void ws_session::close(uint16_t code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->start_close(code, reason);
  });
}

void ws_session::start_close(uint16_t code, std::string reason) {
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

void ws_session::maybe_write() {
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

void ws_session::write_next() {
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

void ws_session::do_close() {
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

} // namespace parley
