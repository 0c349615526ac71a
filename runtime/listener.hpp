#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "runtime/io_lanes.hpp"
#include "runtime/server_context.hpp"

namespace parley {

/// Accepts TCP connections for the HTTP/WebSocket listener, as TLS sessions when the server
/// context has a TLS context. On EMFILE it pauses accepting briefly instead of spinning.
class listener : public std::enable_shared_from_this<listener> {
public:
  /// Binds and listens; throws boost::system::system_error when the port cannot be bound.
  /// Accepts on the first lane; each connection runs on the next lane, round robin.
  listener(io_lanes& lanes, const boost::asio::ip::tcp::endpoint& endpoint, server_context& ctx);

  /// The bound port (useful with port 0).
  uint16_t port() const;

  void run();
  void stop();

private:
  void do_accept();

  io_lanes& lanes_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer backoff_;
  server_context& ctx_;
  std::chrono::steady_clock::time_point last_warning_{};
};

} // namespace parley
