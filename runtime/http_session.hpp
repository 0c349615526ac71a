#pragma once

#include <memory>
#include <optional>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "runtime/rest_api.hpp"
#include "runtime/server_context.hpp"
#include "runtime/session_stream.hpp"

namespace parley {

/// One HTTP connection over `Stream` (plain_stream or tls_stream): completes the TLS
/// handshake when there is one, reads requests (with header/body limits and a read deadline
/// against slowloris), answers REST, or hands a valid `/v1/ws` upgrade to a ws_session.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
public:
  http_session(Stream&& stream, server_context& ctx);

  void run();

private:
  using std::enable_shared_from_this<http_session>::shared_from_this;

  void on_handshake(boost::beast::error_code ec);
  void reject_plain_http();
  void do_read();
  void on_read(boost::beast::error_code ec, size_t bytes);
  void upgrade(rest_api::request req);
  void reply(rest_reply r, bool keep_alive);
  void shutdown();

  Stream stream_;
  boost::beast::flat_buffer buffer_;
  server_context& ctx_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  unsigned version_ = 11;
};

extern template class http_session<plain_stream>;
extern template class http_session<tls_stream>;

} // namespace parley
