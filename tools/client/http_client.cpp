#include "tools/client/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <type_traits>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tools/client/url.hpp"

namespace parley::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

} // namespace

http_response http_request(const std::string& base_url, const std::string& method,
                           const std::string& target, const std::string& body,
                           const std::string& bearer, std::chrono::milliseconds timeout,
                           const tls_options& tls) {
  auto ep = parse_base_url(base_url);
  auto verb = http::string_to_verb(method);
  if (verb == http::verb::unknown)
    throw std::invalid_argument("unknown HTTP method '" + method + "'");

  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, ep.host_header());
  req.set(http::field::user_agent, "parley-client");
  if (!bearer.empty())
    req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  req.keep_alive(false);

  // Beast's tcp_stream deadlines apply to asynchronous operations only, so the request runs
  // as an async chain on a private io_context; the one deadline covers every step.
  net::io_context ioc;
  tcp::resolver resolver{ioc};
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  std::string failure;
  std::string failed_step;
  bool done = false;
  auto fail = [&](std::string why, const char* step) {
    failure = std::move(why);
    failed_step = step;
    done = true;
  };
  auto describe = [](beast::error_code ec) {
    return ec == beast::error::timeout ? std::string("timed out") : ec.message();
  };

  // connect -> (TLS handshake) -> write -> read, on a plain or a TLS stream.
  auto exchange = [&](auto& stream) {
    auto& tcp_layer = beast::get_lowest_layer(stream);
    auto send = [&] {
      http::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
        if (ec)
          return fail(describe(ec), "send request to");
        http::async_read(stream, buffer, res, [&](beast::error_code ec, std::size_t) {
          if (ec)
            return fail(describe(ec), "read reply from");
          done = true;
          beast::error_code ignored;
          tcp_layer.socket().shutdown(tcp::socket::shutdown_both, ignored);
        });
      });
    };
    tcp_layer.expires_after(timeout);
    resolver.async_resolve(ep.host, ep.port, [&](beast::error_code ec,
                                                 tcp::resolver::results_type results) {
      if (ec)
        return fail(describe(ec), "resolve");
      tcp_layer.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
        if (ec)
          return fail(describe(ec), "connect to");
        if constexpr (std::is_same_v<std::decay_t<decltype(stream)>, tls_stream>) {
          stream.async_handshake(net::ssl::stream_base::client, [&](beast::error_code ec) {
            if (ec)
              return fail(describe_handshake_failure(stream, ec), "complete TLS with");
            send();
          });
        } else {
          send();
        }
      });
    });
    // The resolver has no deadline of its own; bound the whole run as a backstop.
    ioc.run_for(timeout + std::chrono::milliseconds(500));
  };
  if (ep.tls) {
    auto ctx = make_client_context(tls);
    tls_stream stream{ioc, *ctx};
    expect_host(stream, ep.host);
    exchange(stream);
  } else {
    beast::tcp_stream stream{ioc};
    exchange(stream);
  }
  if (!done)
    throw transport_error("cannot reach " + ep.host_header() + ": timed out");

  if (!failure.empty())
    throw transport_error("cannot " + failed_step + " " + ep.host_header() + ": " + failure);
  http_response out;
  out.status = static_cast<int>(res.result_int());
  out.body = std::move(res.body());
  for (const auto& field : res)
    out.headers[lower(std::string(field.name_string()))] = std::string(field.value());
  return out;
}

} // namespace parley::client
