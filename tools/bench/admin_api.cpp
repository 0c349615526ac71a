#include "tools/bench/admin_api.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace parley::bench {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

http_connection::http_connection(std::string host, uint16_t port, std::chrono::milliseconds timeout)
  : host_(std::move(host)), port_(port), timeout_(timeout) {
}

http_reply http_connection::request(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& bearer) {
  try {
    return attempt(method, target, body, bearer);
  } catch (const setup_error&) {
    // A keep-alive connection the node closed while we were idle: one fresh try.
    stream_.reset();
    return attempt(method, target, body, bearer);
  }
}

http_reply http_connection::attempt(const std::string& method, const std::string& target,
                                    const std::string& body, const std::string& bearer) {
  beast::error_code failure;
  auto run = [&](const char* what) {
    io_.restart();
    io_.run();
    if (failure) {
      stream_.reset();
      throw setup_error(std::string(what) + " http://" + host_ + ":" + std::to_string(port_)
                        + target + ": " + failure.message());
    }
  };
  if (!stream_) {
    stream_ = std::make_unique<beast::tcp_stream>(io_);
    stream_->expires_after(timeout_);
    stream_->async_connect(tcp::endpoint(net::ip::make_address(host_), port_),
                           [&](beast::error_code ec) { failure = ec; });
    run("connect");
  }
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  req.keep_alive(true);
  if (!bearer.empty())
    req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty())
    req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();

  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  stream_->expires_after(timeout_);
  http::async_write(*stream_, req, [&](beast::error_code ec, size_t) {
    if (ec) {
      failure = ec;
      return;
    }
    http::async_read(*stream_, buffer, res, [&](beast::error_code ec2, size_t) { failure = ec2; });
  });
  run(method.c_str());
  if (!res.keep_alive())
    stream_.reset();
  return http_reply{static_cast<int>(res.result_int()), res.body()};
}

admin_api::admin_api(std::string host, uint16_t port, std::string admin_token)
  : http_(std::move(host), port), token_(std::move(admin_token)) {
}

bool admin_api::healthy() {
  try {
    return http_.request("GET", "/healthz", "", "").status == 200;
  } catch (const setup_error&) {
    return false;
  }
}

std::string admin_api::create_channel(const std::string& workspace, const std::string& name,
                                      const std::vector<uint64_t>& members) {
  // ~10 bytes per "U123456789" entry: 2,000 stay far below the node's 64 KiB body limit.
  constexpr size_t chunk = 2000;
  auto ids = [&](size_t from, size_t to) {
    nlohmann::json list = nlohmann::json::array();
    for (size_t i = from; i < to; ++i)
      list.push_back("U" + std::to_string(members[i]));
    return list;
  };
  size_t first = std::min(chunk, members.size());
  nlohmann::json body = {{"workspace_id", workspace}, {"name", name}, {"members", ids(0, first)}};
  auto reply = http_.request("POST", "/v1/channels", body.dump(), token_);
  if (reply.status != 201)
    throw setup_error("POST /v1/channels -> " + std::to_string(reply.status) + " " + reply.body);
  std::string channel;
  try {
    channel = nlohmann::json::parse(reply.body).at("channel_id").get<std::string>();
  } catch (const std::exception& e) {
    throw setup_error("POST /v1/channels: unexpected reply " + reply.body);
  }
  for (size_t from = first; from < members.size(); from += chunk) {
    nlohmann::json add = {{"user_ids", ids(from, std::min(members.size(), from + chunk))}};
    auto r = http_.request("POST", "/v1/channels/" + channel + "/members", add.dump(), token_);
    if (r.status != 200)
      throw setup_error("POST /v1/channels/" + channel + "/members -> " + std::to_string(r.status)
                        + " " + r.body);
  }
  return channel;
}

} // namespace parley::bench
