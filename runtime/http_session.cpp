#include "runtime/http_session.hpp"

#include <chrono>

#include <boost/asio/dispatch.hpp>
#include <boost/beast/websocket.hpp>

#include "protocol/jwt.hpp"
#include "runtime/request_target.hpp"
#include "runtime/ws_session.hpp"

namespace parley {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

constexpr size_t header_limit = 8 * 1024;
constexpr size_t body_limit = 64 * 1024;

http_session::http_session(net::ip::tcp::socket&& socket, server_context& ctx)
  : stream_(std::move(socket)), ctx_(ctx) {}

void http_session::run() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&http_session::do_read, shared_from_this()));
}

void http_session::do_read() {
  parser_.emplace();
  parser_->header_limit(header_limit);
  parser_->body_limit(body_limit);
  // A client gets this long to send a complete request (slowloris).
  stream_.expires_after(ctx_.config.header_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(beast::error_code ec, size_t) {
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
  stream_.expires_never();
  ctx_.rest->handle(req, [self = shared_from_this(), keep_alive](rest_reply r) {
    net::post(self->stream_.get_executor(), [self, r = std::move(r), keep_alive]() mutable {
      self->reply(std::move(r), keep_alive);
    });
  });
}

/// DESIGN.md "Connect and authenticate": bad workspace_id -> 400 before any token check;
/// a token in the query wins over the header; no 101 is ever sent on failure.
void http_session::upgrade(rest_api::request req) {
  auto target = parse_target(std::string_view(req.target().data(), req.target().size()));
  auto ws = workspace_id::parse(target.param("workspace_id"));
  if (!ws) {
    ctx_.node->metrics->rejected_bad_request->Increment();
    reply(error_reply(400, "bad_request", "workspace_id must look like W1"), false);
    return;
  }
  std::string token = target.param("token");
  if (token.empty())
    token = bearer_token(req);
  if (token.empty()) {
    ctx_.node->metrics->rejected_unauthorized->Increment();
    reply(error_reply(401, "unauthorized", "missing token"), false);
    return;
  }
  auto verified = jwt_verify(token, ctx_.config.jwt_secret, std::time(nullptr));
  auto claims = std::get_if<jwt_claims>(&verified);
  if (!claims) {
    auto why = std::string(to_string(std::get<jwt_error>(verified)));
    ctx_.node->metrics->rejected_unauthorized->Increment();
    reply(error_reply(401, "unauthorized", "invalid token: " + why), false);
    return;
  }
  if (claims->workspace != *ws) {
    ctx_.node->metrics->rejected_unauthorized->Increment();
    reply(error_reply(401, "unauthorized", "token is for another workspace"), false);
    return;
  }
  if (ctx_.open_connections >= ctx_.max_connections) {
    ++ctx_.rejected_connections;
    ctx_.node->metrics->rejected_capacity->Increment();
    reply(error_reply(429, "rate_limited", "node is at its connection limit"), false);
    return;
  }
  stream_.expires_never();
  std::make_shared<ws_session>(stream_.release_socket(), ctx_, *claims)->run(std::move(req));
}

void http_session::reply(rest_reply r, bool keep_alive) {
  auto res = std::make_shared<http::response<http::string_body>>();
  res->version(version_);
  res->result(static_cast<http::status>(r.status));
  res->set(http::field::server, "parley");
  if (r.status != 204) {
    res->set(http::field::content_type, r.content_type);
    res->body() = r.raw.empty() ? r.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                                : std::move(r.raw);
  }
  res->keep_alive(keep_alive);
  res->prepare_payload();
  stream_.expires_after(std::chrono::seconds(30));
  http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
    if (ec || !res->keep_alive()) {
      self->shutdown();
      return;
    }
    self->do_read();
  });
}

void http_session::shutdown() {
  beast::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
}

} // namespace parley
