#include "runtime/http_session.hpp"

#include <chrono>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/beast/websocket.hpp>
#include <openssl/ssl.h>

#include "runtime/auth.hpp"
#include "runtime/request_target.hpp"
#include "runtime/ws_session.hpp"

namespace parley {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

constexpr size_t header_limit = 8 * 1024;
constexpr size_t body_limit = 64 * 1024;

/// How long a TLS close_notify exchange may take before the socket is just closed.
constexpr auto tls_shutdown_timeout = std::chrono::seconds(2);

template <class Stream>
http_session<Stream>::http_session(Stream&& stream, server_context& ctx)
  : stream_(std::move(stream)), ctx_(ctx) {}

template <class Stream>
void http_session<Stream>::run() {
  if constexpr (is_tls_stream<Stream>) {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      // The handshake shares the request deadline: a client that opens TCP and never sends
      // a ClientHello is closed like a slowloris one.
      beast::get_lowest_layer(self->stream_).expires_after(self->ctx_.config.header_timeout);
      self->stream_.async_handshake(
        net::ssl::stream_base::server,
        beast::bind_front_handler(&http_session::on_handshake, self));
    });
  } else {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_read, shared_from_this()));
  }
}

template <class Stream>
void http_session<Stream>::on_handshake(beast::error_code ec) {
  if (!ec) {
    do_read();
    return;
  }
  // OpenSSL recognises a plain HTTP request in place of a ClientHello and sends no alert,
  // so the client can still be told in plain HTTP what went wrong.
  if (ec.category() == net::error::get_ssl_category()
      && ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_HTTP_REQUEST) {
    reject_plain_http();
    return;
  }
  // Timeouts, resets and failed handshakes just close (the socket closes with the session).
}

template <class Stream>
void http_session<Stream>::reject_plain_http() {
  if constexpr (is_tls_stream<Stream>) {
    auto r = error_reply(400, "bad_request", "this port serves TLS only: use https:// or wss://");
    auto res = std::make_shared<http::response<http::string_body>>(http::status::bad_request, 11);
    res->set(http::field::server, "parley");
    res->set(http::field::content_type, r.content_type);
    res->body() = r.body.dump();
    res->keep_alive(false);
    res->prepare_payload();
    auto& tcp = beast::get_lowest_layer(stream_);
    tcp.expires_after(std::chrono::seconds(5));
    http::async_write(tcp, *res, [self = shared_from_this(), res](beast::error_code, size_t) {
      beast::error_code ignored;
      beast::get_lowest_layer(self->stream_).socket().shutdown(net::ip::tcp::socket::shutdown_send,
                                                               ignored);
    });
  }
}

template <class Stream>
void http_session<Stream>::do_read() {
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(body_limit);
  // A client gets this long to send a complete request (slowloris).
  beast::get_lowest_layer(stream_).expires_after(ctx_.config.header_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

template <class Stream>
void http_session<Stream>::on_read(beast::error_code ec, size_t) {
  if (ec == http::error::header_limit) {
    reply(error_reply(431, "bad_request", "request header too large"), false);
    return;
  }
  if (ec == http::error::body_limit) {
    reply(error_reply(413, "bad_request", "request body too large"), false);
    return;
  }
  if (ec) {
    // A malformed request line or header gets a 400; timeouts and resets just close.
    if (ec != http::error::end_of_stream
        && ec.category() == http::make_error_code(http::error::bad_target).category()) {
      reply(error_reply(400, "bad_request", "malformed HTTP request"), false);
      return;
    }
    shutdown();
    return;
  }
  auto req = parser_->release();
  version_ = req.version();
  auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  if (target.path == "/v1/ws" && beast::websocket::is_upgrade(req)) {
    upgrade(std::move(req));
    return;
  }
  bool keep_alive = req.keep_alive();
  beast::get_lowest_layer(stream_).expires_never();
  ctx_.rest->handle(req, [self = shared_from_this(), keep_alive](rest_reply r) {
    net::post(self->stream_.get_executor(), [self, r = std::move(r), keep_alive]() mutable {
      self->reply(std::move(r), keep_alive);
    });
  });
}

/// docs/protocol.md "Connect and authenticate": bad workspace_id -> 400 before any token check;
/// a token in the query wins over the header; no 101 is ever sent on failure.
template <class Stream>
void http_session<Stream>::upgrade(rest_api::request req) {
  auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  auto ws = workspace_id::parse(target.param("workspace_id"));
  if (!ws) {
    ctx_.node->env.metrics->rejected_bad_request->Increment();
    reply(error_reply(400, "bad_request", "workspace_id must look like W1"), false);
    return;
  }
  // A token in the query wins over the header (browsers cannot set headers on a WebSocket).
  auto auth = authenticate_user(req, ctx_.config.jwt_secret, target.param("token"), *ws);
  if (!auth.claims) {
    ctx_.node->env.metrics->rejected_unauthorized->Increment();
    reply(error_reply(401, "unauthorized", auth.error), false);
    return;
  }
  if (ctx_.open_connections >= ctx_.max_connections) {
    ctx_.node->env.metrics->rejected_capacity->Increment();
    reply(error_reply(429, "rate_limited", "node is at its connection limit"), false);
    return;
  }
  // RFC 6455 section 4.2.1: version 13 and a key of 16 bytes in base64.
  if (req[http::field::sec_websocket_version] != "13") {
    auto r = error_reply(426, "bad_request", "only WebSocket version 13 is supported");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    reply(std::move(r), false);
    return;
  }
  if (req[http::field::sec_websocket_key].size() != 24) {
    reply(error_reply(400, "bad_request", "missing or invalid Sec-WebSocket-Key"), false);
    return;
  }
  beast::get_lowest_layer(stream_).expires_never();
  std::make_shared<ws_session<Stream>>(hand_over(stream_), ctx_, *auth.claims)->run(std::move(req));
}

template <class Stream>
void http_session<Stream>::reply(rest_reply r, bool keep_alive) {
  auto res = std::make_shared<http::response<http::string_body>>();
  res->version(version_);
  res->result(static_cast<http::status>(r.status));
  res->set(http::field::server, "parley");
  for (auto& [name, value] : r.headers)
    res->set(name, value);
  if (r.status != 204) {
    res->set(http::field::content_type, r.content_type);
    res->body() = r.raw.empty()
                    ? r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    : std::move(r.raw);
  }
  res->keep_alive(keep_alive);
  res->prepare_payload();
  beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
    if (ec || !res->keep_alive()) {
      self->shutdown();
      return;
    }
    self->do_read();
  });
}

template <class Stream>
void http_session<Stream>::shutdown() {
  if constexpr (is_tls_stream<Stream>) {
    // Send close_notify; the socket closes with the session once this completes or times out.
    beast::get_lowest_layer(stream_).expires_after(tls_shutdown_timeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  } else {
    beast::error_code ec;
    stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  }
}

template class http_session<plain_stream>;
template class http_session<tls_stream>;

} // namespace parley
