#include "runtime/listener.hpp"



#include "runtime/http_session.hpp"
#include "actors/log.hpp"

namespace parley {

namespace net = boost::asio;
using tcp = net::ip::tcp;

listener::listener(io_lanes& lanes, const tcp::endpoint& endpoint, server_context& ctx)
  : lanes_(lanes), acceptor_(lanes.first().context()), backoff_(lanes.first().context()),
    ctx_(ctx) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

uint16_t listener::port() const {
  return acceptor_.local_endpoint().port();
}

void listener::run() {
  do_accept();
}

void listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    boost::system::error_code ec;
    self->acceptor_.close(ec);
    self->backoff_.cancel();
  });
}

void listener::do_accept() {
  acceptor_.async_accept(lanes_.next().context(), [self = shared_from_this()](
                                                   boost::system::error_code ec, tcp::socket s) {
    if (ec == net::error::operation_aborted || !self->acceptor_.is_open())
      return;
    if (ec) {
      // Out of file descriptors (EMFILE/ENFILE) or a transient error: wait, then retry.
      auto now = std::chrono::steady_clock::now();
      if (now - self->last_warning_ >= std::chrono::seconds(1)) {
        self->last_warning_ = now;
        log(log_level::warning, "accept failed: " + ec.message() + " (pausing accepts)",
            {{"actor", "listener"}});
      }
      self->backoff_.expires_after(std::chrono::milliseconds(100));
      self->backoff_.async_wait([self](boost::system::error_code e) {
        if (!e)
          self->do_accept();
      });
      return;
    }
    boost::system::error_code ignored;
    s.set_option(tcp::no_delay(true), ignored);
    if (self->ctx_.tls)
      std::make_shared<http_session<tls_stream>>(tls_stream(std::move(s), *self->ctx_.tls),
                                                  self->ctx_)
        ->run();
    else
      std::make_shared<http_session<plain_stream>>(plain_stream(std::move(s)), self->ctx_)->run();
    self->do_accept();
  });
}

} // namespace parley
