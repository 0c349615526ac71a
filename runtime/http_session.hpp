#pragma once

#include <memory>
#include <optional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "runtime/rest_api.hpp"
#include "runtime/server_context.hpp"

namespace parley {

/// One plain HTTP connection: reads requests (with header/body limits and a read deadline
/// against slowloris), answers REST, or hands a valid `/v1/ws` upgrade to a ws_session.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(boost::asio::ip::tcp::socket&& socket, server_context& ctx);

  void run();

private:
  void do_read();
  void on_read(boost::beast::error_code ec, size_t bytes);
  void upgrade(rest_api::request req);
  void reply(rest_reply r, bool keep_alive);
  void shutdown();

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  server_context& ctx_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  unsigned version_ = 11;
};

} // namespace parley
