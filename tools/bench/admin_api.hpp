#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace parley::bench {

/// Setup failed (node unreachable, non-2xx reply): the run cannot start.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One HTTP reply from the node.
struct http_reply {
  int status = 0;
  std::string body;
};

/// A keep-alive HTTP/1.1 connection for the setup calls; reconnects once when the node
/// closed the connection. Synchronous from the caller's view, each call bounded by a deadline.
class http_connection {
public:
  http_connection(std::string host, uint16_t port,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Sends one request; `bearer` becomes `Authorization: Bearer ...`. Throws setup_error on
  /// transport failure; any HTTP status is returned.
  http_reply request(const std::string& method, const std::string& target,
                     const std::string& body, const std::string& bearer);

private:
  http_reply attempt(const std::string& method, const std::string& target,
                     const std::string& body, const std::string& bearer);

  boost::asio::io_context io_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
};

/// The admin calls the bench needs (docs/protocol.md "REST on the same listener").
class admin_api {
public:
  admin_api(std::string host, uint16_t port, std::string admin_token);

  /// Creates a channel holding `members` (user numbers) in `workspace`; large member lists
  /// go in chunks through POST /v1/channels/{id}/members (the node caps bodies at 64 KiB).
  std::string create_channel(const std::string& workspace, const std::string& name,
                             const std::vector<uint64_t>& members);

  /// GET /healthz succeeded.
  bool healthy();

private:
  http_connection http_;
  std::string token_;
};

} // namespace parley::bench
