#include "tools/client/ws_client.hpp"

#include <algorithm>
#include <cctype>
#include <deque>
#include <type_traits>
#include <variant>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "tools/client/tls.hpp"
#include "tools/client/url.hpp"

namespace parley::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string describe(beast::error_code ec) {
  return ec == beast::error::timeout ? std::string("timed out") : ec.message();
}

} // namespace

struct ws_client::impl {
  using plain_ws = websocket::stream<beast::tcp_stream>;
  using tls_ws = websocket::stream<tls_stream>;

  net::io_context ioc;
  tls_options tls;
  std::shared_ptr<net::ssl::context> ssl_ctx; // outlives the stream
  std::variant<std::monostate, plain_ws, tls_ws> ws; // chosen by connect() from the URL
  beast::flat_buffer rbuf;
  std::deque<std::string> inbox;
  int pending = 0;      // outstanding async operations
  bool reading = false; // at most one read is outstanding (Beast's rule)
  bool open = false;
  bool ended = false;
  std::optional<int> code;
  std::string reason;
  std::string error;

  /// Connect, TLS handshake (wss), upgrade on `ws`; see ws_client::connect.
  template <class WebSocket>
  upgrade_result connect_on(WebSocket& ws, const endpoint& ep, const std::string& target,
                            const headers& extra_headers, std::chrono::milliseconds timeout);

  /// Calls `f` with the WebSocket stream, plain or TLS; does nothing before connect().
  template <class F>
  void with_ws(F&& f) {
    std::visit(
      [&](auto& w) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(w)>, std::monostate>)
          f(w);
      },
      ws);
  }

  /// Runs handlers until `done` holds, the deadline passes or no work is left.
  template <class Done>
  bool run_until(Done done, clock_type::time_point deadline) {
    while (!done()) {
      if (pending == 0 || clock_type::now() >= deadline)
        return false;
      if (ioc.stopped())
        ioc.restart();
      ioc.run_one_until(deadline);
    }
    return true;
  }

  void on_end(beast::error_code ec) {
    if (ended)
      return;
    open = false;
    ended = true;
    // A close frame read before the failure still tells why the server closed (the server
    // may reset the connection while a large write is in flight, e.g. after 1009).
    websocket::close_reason why;
    with_ws([&](auto& w) { why = w.reason(); });
    if (ec == websocket::error::closed || why.code != websocket::close_code::none) {
      code = static_cast<int>(why.code);
      reason = std::string(why.reason.c_str());
    } else if (error.empty()) {
      error = ec.message();
    }
  }

  void start_read() {
    if (reading || ended || !open)
      return;
    reading = true;
    ++pending;
    with_ws([&](auto& w) {
      w.async_read(rbuf, [this](beast::error_code ec, std::size_t) {
        --pending;
        reading = false;
        if (ec)
          return on_end(ec);
        inbox.push_back(beast::buffers_to_string(rbuf.data()));
        rbuf.consume(rbuf.size());
      });
    });
  }

  void hard_close() {
    with_ws([](auto& w) {
      beast::error_code ignored;
      beast::get_lowest_layer(w).socket().shutdown(tcp::socket::shutdown_both, ignored);
      beast::get_lowest_layer(w).close();
    });
    // Let cancelled handlers run so no handler outlives this state.
    if (ioc.stopped())
      ioc.restart();
    ioc.poll();
    open = false;
    ended = true;
  }

  void write(std::string_view bytes, bool text, std::chrono::milliseconds timeout) {
    if (!open)
      throw transport_error(ended ? "connection closed" : "not connected");
    with_ws([&](auto& w) { w.text(text); });
    // Keep a read pending while writing, so a close frame the server sends meanwhile is seen.
    start_read();
    bool done = false;
    beast::error_code result;
    ++pending;
    with_ws([&](auto& w) {
      w.async_write(net::buffer(bytes.data(), bytes.size()),
                    [&](beast::error_code ec, std::size_t) {
                      --pending;
                      done = true;
                      result = ec;
                    });
    });
    if (!run_until([&] { return done; }, clock_type::now() + timeout)) {
      hard_close();
      throw transport_error("send timed out");
    }
    if (result) {
      // Let the pending read pick up a close frame that arrived before the failure.
      run_until([&] { return !reading; }, clock_type::now() + std::chrono::milliseconds(200));
      on_end(result);
      throw transport_error("send failed: " + describe(result));
    }
  }
};

ws_client::ws_client() : impl_(std::make_unique<impl>()) {}

ws_client::ws_client(tls_options tls) : impl_(std::make_unique<impl>()) {
  impl_->tls = std::move(tls);
}

ws_client::~ws_client() {
  if (impl_ && impl_->open) {
    try {
      close(1000, std::chrono::milliseconds(500));
    } catch (...) {
      // A destructor never throws; the socket closes with the stream regardless.
    }
  }
}

ws_client::ws_client(ws_client&&) noexcept = default;
ws_client& ws_client::operator=(ws_client&&) noexcept = default;

upgrade_result ws_client::connect(const std::string& base_url, const std::string& target,
                                  const headers& extra_headers,
                                  std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (s.open || s.ended)
    throw std::logic_error("ws_client::connect called twice");
  auto ep = parse_base_url(base_url);
  if (ep.tls) {
    s.ssl_ctx = make_client_context(s.tls);
    auto& w = s.ws.emplace<impl::tls_ws>(s.ioc, *s.ssl_ctx);
    expect_host(w.next_layer(), ep.host);
  } else {
    s.ws.emplace<impl::plain_ws>(s.ioc);
  }
  upgrade_result out;
  s.with_ws([&](auto& w) { out = s.connect_on(w, ep, target, extra_headers, timeout); });
  return out;
}

template <class WebSocket>
upgrade_result ws_client::impl::connect_on(WebSocket& ws, const endpoint& ep,
                                           const std::string& target,
                                           const headers& extra_headers,
                                           std::chrono::milliseconds timeout) {
  auto& s = *this;
  ws.set_option(websocket::stream_base::decorator([extra_headers](websocket::request_type& req) {
    req.set(http::field::user_agent, "parley-client");
    for (const auto& [name, value] : extra_headers)
      req.set(name, value);
  }));
  ws.auto_fragment(false);
  ws.read_message_max(64 * 1024 * 1024);

  tcp::resolver resolver{s.ioc};
  websocket::response_type res;
  beast::error_code failure;
  std::string step;
  std::string tls_failure;
  bool done = false;
  auto finish = [&](beast::error_code ec, const char* what) {
    --s.pending;
    failure = ec;
    step = what;
    done = true;
  };
  auto upgrade = [&] {
    ws.async_handshake(res, ep.host_header(), target, [&](beast::error_code ec) {
      finish(ec, "upgrade at");
    });
  };

  // The tcp_stream deadline covers connect and handshake; afterwards each call has its own.
  beast::get_lowest_layer(ws).expires_after(timeout);
  ++s.pending;
  resolver.async_resolve(ep.host, ep.port, [&](beast::error_code ec,
                                                 tcp::resolver::results_type results) {
    if (ec)
      return finish(ec, "resolve");
    beast::get_lowest_layer(ws).async_connect(
        results, [&](beast::error_code ec, const tcp::endpoint&) {
          if (ec)
            return finish(ec, "connect to");
          if constexpr (std::is_same_v<WebSocket, impl::tls_ws>) {
            ws.next_layer().async_handshake(
              net::ssl::stream_base::client, [&](beast::error_code ec) {
                if (!ec)
                  return upgrade();
                tls_failure = describe_handshake_failure(ws.next_layer(), ec);
                finish(ec, "complete TLS with");
              });
          } else {
            upgrade();
          }
        });
  });
  if (!s.run_until([&] { return done; },
                   clock_type::now() + timeout + std::chrono::milliseconds(500))) {
    s.hard_close();
    throw transport_error("cannot connect to " + ep.host_header() + ": timed out");
  }

  upgrade_result out;
  if (failure && failure != websocket::error::upgrade_declined) {
    s.hard_close();
    throw transport_error("cannot " + step + " " + ep.host_header() + ": "
                          + (tls_failure.empty() ? describe(failure) : tls_failure));
  }
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& field : res)
    out.headers[lower(std::string(field.name_string()))] = std::string(field.value());
  if (failure) {
    s.hard_close();
    if (out.status == 101) // declined for another reason (e.g. a bad Sec-WebSocket-Accept)
      out.status = 0;
    return out;
  }
  beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout opt{};
  opt.handshake_timeout = std::chrono::seconds(5); // bounds the close handshake
  opt.idle_timeout = websocket::stream_base::none();
  opt.keep_alive_pings = false;
  ws.set_option(opt);
  s.open = true;
  return out;
}

void ws_client::send_text(std::string_view text, std::chrono::milliseconds timeout) {
  impl_->write(text, true, timeout);
}

void ws_client::send_json(const nlohmann::json& frame, std::chrono::milliseconds timeout) {
  impl_->write(frame.dump(), true, timeout);
}

void ws_client::send_binary(std::string_view bytes, std::chrono::milliseconds timeout) {
  impl_->write(bytes, false, timeout);
}

void ws_client::ping(std::string_view payload, std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (!s.open)
    throw transport_error("not connected");
  bool done = false;
  beast::error_code result;
  ++s.pending;
  s.with_ws([&](auto& w) {
    w.async_ping(websocket::ping_data(payload.data(), payload.size()), [&](beast::error_code ec) {
      --s.pending;
      done = true;
      result = ec;
    });
  });
  if (!s.run_until([&] { return done; }, clock_type::now() + timeout)) {
    s.hard_close();
    throw transport_error("ping timed out");
  }
  if (result) {
    s.on_end(result);
    throw transport_error("ping failed: " + describe(result));
  }
}

std::optional<std::string> ws_client::read_text(std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  auto deadline = clock_type::now() + timeout;
  if (s.inbox.empty()) {
    s.start_read();
    s.run_until([&] { return !s.inbox.empty(); }, deadline);
  }
  if (s.inbox.empty())
    return std::nullopt;
  auto text = std::move(s.inbox.front());
  s.inbox.pop_front();
  return text;
}

nlohmann::json ws_client::read_json(std::chrono::milliseconds timeout) {
  auto text = read_text(timeout);
  if (!text) {
    if (closed())
      throw transport_error("connection closed" +
                            (close_code() ? " with code " + std::to_string(*close_code())
                                          : ": " + failure()));
    throw transport_error("no frame within " + std::to_string(timeout.count()) + " ms");
  }
  try {
    return nlohmann::json::parse(*text);
  } catch (const nlohmann::json::parse_error&) {
    throw transport_error("server sent a frame that is not JSON: " + text->substr(0, 200));
  }
}

std::vector<nlohmann::json>
ws_client::read_until(const std::function<bool(const nlohmann::json&)>& pred,
                      std::chrono::milliseconds timeout) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto deadline = clock_type::now() + timeout;
  std::vector<nlohmann::json> frames;
  for (;;) {
    auto left =
      std::max(milliseconds(0), duration_cast<milliseconds>(deadline - clock_type::now()));
    nlohmann::json frame;
    try {
      frame = read_json(left);
    } catch (const transport_error& e) {
      std::string seen = frames.empty() ? std::string("nothing") : frames.back().dump();
      if (seen.size() > 300)
        seen = seen.substr(0, 300) + "...";
      throw transport_error(std::string(e.what()) + " while waiting (" +
                            std::to_string(frames.size()) + " other frames read; last: " + seen +
                            ")");
    }
    frames.push_back(std::move(frame));
    if (pred(frames.back()))
      return frames;
  }
}

bool ws_client::wait_closed(std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  auto deadline = clock_type::now() + timeout;
  while (!s.ended) {
    s.inbox.clear();
    s.start_read();
    if (!s.run_until([&] { return s.ended || !s.inbox.empty(); }, deadline))
      return s.ended;
  }
  return true;
}

void ws_client::close(int code, std::chrono::milliseconds timeout) {
  auto& s = *impl_;
  if (!s.open)
    return;
  bool done = false;
  beast::error_code result;
  ++s.pending;
  s.with_ws([&](auto& w) {
    w.async_close(websocket::close_reason(static_cast<std::uint16_t>(code)),
                  [&](beast::error_code ec) {
                    --s.pending;
                    done = true;
                    result = ec;
                  });
  });
  bool finished = s.run_until([&] { return done; }, clock_type::now() + timeout);
  s.open = false;
  s.ended = true;
  if (!finished || s.pending > 0)
    s.hard_close();
}

void ws_client::abort() {
  if (impl_->open || !impl_->ended)
    impl_->hard_close();
}

bool ws_client::is_open() const { return impl_ && impl_->open; }

bool ws_client::closed() const { return impl_->ended; }

std::optional<int> ws_client::close_code() const { return impl_->code; }

std::string ws_client::close_reason() const { return impl_->reason; }

std::string ws_client::failure() const { return impl_->error; }

} // namespace parley::client
