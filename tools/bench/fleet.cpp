#include "tools/bench/fleet.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

#include <netinet/in.h>

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket.hpp>

#include "protocol/ids.hpp"

namespace parley::bench {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto housekeeping_period = std::chrono::milliseconds(100);
// docs/protocol.md "Rules": 30 s without any client frame closes the connection; ping each
// client every 10 s, spread over the period so the node sees a steady trickle.
constexpr auto ping_period = std::chrono::seconds(10);

std::string describe(const char* stage, beast::error_code ec) {
  return std::string(stage) + ": " + ec.message();
}

} // namespace

// --- ws_client ---------------------------------------------------------------------------

ws_client::ws_client(net::io_context& io, fleet& owner, size_t index, uint64_t user_number,
                     std::string room_name, size_t global)
  : user(user_number), room(std::move(room_name)), global_index(global), ws_(io), owner_(owner),
    index_(index) {
}

void ws_client::start(const tcp::endpoint& target, const std::optional<net::ip::address>& source,
                      const std::string& host_header, const std::string& path) {
  st = state::connecting;
  started_ns = now_ns();
  host_header_ = host_header;
  path_ = path;
  auto& stream = beast::get_lowest_layer(ws_);
  if (source) {
    // Several 127.0.0.x sources multiply the ephemeral ports available towards one node.
    beast::error_code ec;
    stream.socket().open(tcp::v4(), ec);
    // ip(7): without IP_BIND_ADDRESS_NO_PORT, bind(ip, 0) reserves a port for every
    // destination; with it the port is picked at connect time per 4-tuple.
    int one = 1;
    if (!ec)
      ::setsockopt(stream.socket().native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof one);
    if (!ec)
      stream.socket().bind(tcp::endpoint(*source, 0), ec);
    if (ec)
      return fail(describe("bind", ec));
  }
  stream.expires_after(owner_.cfg_.connect_timeout);
  stream.async_connect(target, beast::bind_front_handler(&ws_client::on_connect, this));
}

void ws_client::on_connect(beast::error_code ec) {
  if (ec)
    return fail(describe("connect", ec));
  if (st != state::connecting)
    return;
  beast::get_lowest_layer(ws_).socket().set_option(tcp::no_delay(true), ec);
  // The websocket layer owns timeouts from here; the TCP deadline would fire mid-session.
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout t{};
  t.handshake_timeout = owner_.cfg_.connect_timeout;
  t.idle_timeout = websocket::stream_base::none();
  t.keep_alive_pings = false;
  ws_.set_option(t);
  ws_.read_message_max(1u << 20);
  ws_.auto_fragment(false);
  ws_.text(true);
  ws_.async_handshake(host_header_, path_,
                      beast::bind_front_handler(&ws_client::on_handshake, this));
}

void ws_client::on_handshake(beast::error_code ec) {
  if (ec)
    return fail(describe("upgrade", ec));
  if (st != state::connecting)
    return;
  st = state::waiting_ack;
  auto first = owner_.proto_.first_frame(room);
  if (!first.empty()) {
    queue_.push_back(std::make_shared<const std::string>(std::move(first)));
    do_write();
  }
  do_read();
}

void ws_client::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&ws_client::on_read, this));
}

void ws_client::on_read(beast::error_code ec, size_t) {
  if (ec) {
    if (ec == websocket::error::closed) {
      auto r = ws_.reason();
      return fail("closed by node: " + std::to_string(r.code)
                  + (r.reason.empty() ? "" : " " + std::string(r.reason.c_str())));
    }
    return fail(describe("read", ec));
  }
  if (st == state::closed)
    return;
  auto data = buffer_.data();
  std::string_view frame(static_cast<const char*>(data.data()), data.size());
  owner_.on_client_frame(index_, frame, now_ns());
  buffer_.consume(buffer_.size());
  if (st != state::closed)
    do_read();
}

void ws_client::send(std::shared_ptr<const std::string> frame) {
  if (st != state::ready && st != state::waiting_ack)
    return;
  queue_.push_back(std::move(frame));
  if (!writing_)
    do_write();
}

void ws_client::do_write() {
  if (queue_.empty() || writing_)
    return;
  writing_ = true;
  ws_.async_write(net::buffer(*queue_.front()),
                  beast::bind_front_handler(&ws_client::on_write, this));
}

void ws_client::on_write(beast::error_code ec, size_t) {
  writing_ = false;
  if (ec)
    return fail(describe("write", ec));
  if (!queue_.empty())
    queue_.pop_front();
  do_write();
}

void ws_client::abort() {
  if (st == state::closed || st == state::idle) {
    st = state::closed;
    return;
  }
  st = state::closed;
  queue_.clear();
  beast::error_code ec;
  beast::get_lowest_layer(ws_).socket().close(ec);
}

void ws_client::fail(const std::string& why) {
  if (st == state::closed)
    return;
  auto previous = st;
  st = state::closed;
  queue_.clear();
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().close(ignored);
  owner_.on_client_failed(index_, previous == state::ready ? "ready" : "pending", why);
}

// --- fleet -------------------------------------------------------------------------------

fleet::fleet(net::io_context& io, fleet_config cfg, fleet_observer& observer)
  : io_(io), cfg_(std::move(cfg)), observer_(observer), proto_(cfg_.target) {
  for (auto& n : cfg_.nodes) {
    targets_.emplace_back(net::ip::make_address(n.host), n.port);
    host_headers_.push_back(n.host + ":" + std::to_string(n.port));
  }
  if (targets_.empty())
    throw std::invalid_argument("fleet needs at least one node");
  for (auto& s : cfg_.source_ips)
    sources_.push_back(net::ip::make_address(s));
  if (auto k = proto_.keepalive(); !k.empty())
    ping_ = std::make_shared<const std::string>(std::move(k));
  next_housekeeping_ = steady::now();
}

fleet::~fleet() {
  close_all();
}

size_t fleet::add(uint64_t user, std::string room, size_t global_index) {
  clients_.push_back(
    std::make_unique<ws_client>(io_, *this, clients_.size(), user, std::move(room), global_index));
  return clients_.size() - 1;
}

void fleet::send(size_t client, std::shared_ptr<const std::string> frame) {
  auto& c = *clients_[client];
  if (c.st == ws_client::state::ready)
    c.send(std::move(frame));
}

void fleet::close_all() {
  for (auto& c : clients_)
    c->abort();
  // Cancelled operations complete with operation_aborted; run them while clients live.
  io_.restart();
  io_.poll();
}

void fleet::close(size_t client) {
  auto& c = *clients_[client];
  if (c.st == ws_client::state::ready)
    --ready_;
  c.abort();
}

fleet::connect_report fleet::connect_all() {
  if (cfg_.target == target_kind::parley && !workspace_id::parse(cfg_.workspace))
    throw std::invalid_argument("workspace must look like W1");
  connecting_ = true;
  connect_start_ = steady::now();
  first_to_start_ = next_to_start_;
  auto last_progress = connect_start_;
  size_t total = clients_.size() - first_to_start_;
  // Earlier clients may close meanwhile: count this call's clients by their own numbers.
  size_t failed0 = failed_;
  auto failures0 = failures_;
  auto ready_now = [&] {
    size_t n = 0;
    for (size_t i = first_to_start_; i < clients_.size(); ++i)
      n += ready(i) ? 1 : 0;
    return n;
  };
  auto print_progress = [&](bool final) {
    size_t ready = ready_now();
    if (progress_hook)
      return progress_hook(ready, failed_ - failed0, pending_);
    double secs = std::chrono::duration<double>(steady::now() - connect_start_).count();
    std::fprintf(stderr,
                 "\rconnecting: %zu/%zu ready, %zu failed, %zu in flight, %.0f/s, %.1f s   %s",
                 ready, total, failed_ - failed0, pending_,
                 secs > 0 ? static_cast<double>(ready) / secs : 0.0, secs, final ? "\n" : "");
    std::fflush(stderr);
  };
  while (next_to_start_ < clients_.size() || pending_ > 0) {
    start_connects();
    step();
    if (steady::now() - last_progress >= std::chrono::milliseconds(250)) {
      last_progress = steady::now();
      print_progress(false);
    }
  }
  print_progress(true);
  connecting_ = false;
  connect_report r;
  r.ready = ready_now();
  r.failed = failed_ - failed0;
  for (auto& [why, n] : failures_)
    if (size_t added = n - failures0[why]; added > 0)
      r.failures[why] = added;
  r.seconds = std::chrono::duration<double>(steady::now() - connect_start_).count();
  return r;
}

void fleet::start_connects() {
  double elapsed = std::chrono::duration<double>(steady::now() - connect_start_).count();
  auto allowed = static_cast<size_t>(std::floor(elapsed * cfg_.connect_rate)) + 1;
  int64_t exp = static_cast<int64_t>(std::time(nullptr)) + 3600;
  while (next_to_start_ < clients_.size() && next_to_start_ - first_to_start_ < allowed
         && pending_ < cfg_.max_pending) {
    auto& c = *clients_[next_to_start_];
    std::optional<net::ip::address> source;
    if (!sources_.empty())
      source = sources_[c.global_index % sources_.size()];
    std::string path = proto_.ws_path(c.user, cfg_.workspace, cfg_.secret, exp);
    size_t node = c.global_index % targets_.size();
    ++next_to_start_;
    ++pending_;
    c.start(targets_[node], source, host_headers_[node], path);
  }
}

void fleet::step() {
  // Short slices keep connect pacing, timeouts and pings responsive under load.
  if (io_.stopped())
    io_.restart();
  io_.run_for(std::chrono::milliseconds(1));
  if (io_.stopped())
    io_.restart();
  if (steady::now() >= next_housekeeping_) {
    next_housekeeping_ = steady::now() + housekeeping_period;
    check_timeouts_and_ping();
  }
}

void fleet::check_timeouts_and_ping() {
  if (pending_ > 0) {
    int64_t limit = now_ns()
                    - std::chrono::duration_cast<std::chrono::nanoseconds>(cfg_.connect_timeout)
                        .count();
    for (size_t i = 0; i < next_to_start_; ++i) {
      auto& c = *clients_[i];
      if (c.st == ws_client::state::waiting_ack && c.started_ns < limit)
        c.fail(cfg_.target == target_kind::parley ? "timeout waiting for hello_ack"
                                                  : "timeout waiting for the join");
    }
  }
  if (clients_.empty() || !ping_)
    return;
  size_t slices = static_cast<size_t>(ping_period / housekeeping_period);
  size_t per_tick = (clients_.size() + slices - 1) / slices;
  for (size_t n = 0; n < per_tick; ++n) {
    ping_cursor_ = (ping_cursor_ + 1) % clients_.size();
    send(ping_cursor_, ping_);
  }
}

bool fleet::settle(steady::duration quiet, steady::duration max) {
  auto quiet_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(quiet).count();
  if (last_frame_ns_ == 0)
    last_frame_ns_ = now_ns();
  return run_until([&] { return now_ns() - last_frame_ns_ >= quiet_ns; }, steady::now() + max);
}

void fleet::on_client_frame(size_t index, std::string_view raw, int64_t recv_ns) {
  auto& c = *clients_[index];
  if (proto_.is_server_ping(raw)) {
    ++frames_by_kind_[static_cast<size_t>(frame_kind::pong)];
    c.send(std::make_shared<const std::string>(proto_.auto_reply()));
    return;
  }
  if (c.st == ws_client::state::waiting_ack) {
    auto step = proto_.on_setup_frame(raw, c.room);
    if (step.consumed) {
      last_frame_ns_ = recv_ns;
      if (step.ready)
        ++frames_by_kind_[static_cast<size_t>(frame_kind::hello_ack)];
      if (!step.reply.empty())
        c.send(std::make_shared<const std::string>(std::move(step.reply)));
      if (!step.error.empty())
        return c.fail(step.error);
      if (step.ready) {
        c.st = ws_client::state::ready;
        --pending_;
        ++ready_;
        observer_.on_ready(index, raw);
      }
      return;
    }
  }
  auto scanned = proto_.scan(raw);
  if (!scanned) {
    ++unparsed_;
    return;
  }
  // Our own keep-alive pings are answered all the time; they are not setup traffic.
  if (scanned->kind != frame_kind::pong)
    last_frame_ns_ = recv_ns;
  ++frames_by_kind_[static_cast<size_t>(scanned->kind)];
  observer_.on_frame(index, *scanned, raw, recv_ns);
}

void fleet::on_client_failed(size_t index, const std::string& was, const std::string& why) {
  if (was == "ready") {
    --ready_;
    ++closed_after_ready_;
    ++close_reasons_[why];
    observer_.on_closed(index, why);
    if (on_close_hook)
      on_close_hook();
  } else {
    --pending_;
    ++failed_;
    ++failures_[why];
  }
}

} // namespace parley::bench
