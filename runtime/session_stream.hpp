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

/// Hands a session's stream over to the WebSocket session after an upgrade. The TLS stream
/// moves as a whole (its SSL state must survive); the plain stream gives up its socket,
/// since moving a tcp_stream with a timer just used is not safe in Beast 1.74.
inline plain_stream hand_over(plain_stream& s) {
  return plain_stream(s.release_socket());
}

inline tls_stream hand_over(tls_stream& s) {
  return std::move(s);
}

} // namespace parley
