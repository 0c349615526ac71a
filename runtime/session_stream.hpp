#pragma once

#include <type_traits>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace parley {

/// The byte stream under a plain http:// / ws:// session.
using plain_stream = boost::beast::tcp_stream;

/// The byte stream under an https:// / wss:// session (`tls.cert` and `tls.key` set).
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

/// True for the TLS stream: the sessions add a handshake and a TLS shutdown for it.
template <class Stream>
constexpr bool is_tls_stream = std::is_same_v<Stream, tls_stream>;

/// What a WebSocket session runs over. The plain one is the bare socket: Beast's tcp_stream
/// adds two timers and ~450 bytes per connection that a WebSocket session does not use (its
/// idle timeout lives in the connection actor). The TLS stream keeps its SSL state.
template <class Stream>
using ws_transport =
  std::conditional_t<is_tls_stream<Stream>, Stream, boost::asio::ip::tcp::socket>;

/// Hands a session's stream over to the WebSocket session after an upgrade.
inline boost::asio::ip::tcp::socket hand_over(plain_stream& s) {
  return s.release_socket();
}

inline tls_stream hand_over(tls_stream& s) {
  return std::move(s);
}

/// The TCP socket under a WebSocket session's transport.
inline boost::asio::ip::tcp::socket& tcp_socket_of(boost::asio::ip::tcp::socket& s) {
  return s;
}

inline boost::asio::ip::tcp::socket& tcp_socket_of(tls_stream& s) {
  return boost::beast::get_lowest_layer(s).socket();
}

} // namespace parley
