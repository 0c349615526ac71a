#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/client/http_client.hpp"
#include "tools/client/tls.hpp"

namespace parley::client {

/// The answer to a WebSocket upgrade request: 101 when upgraded, else the refusal.
struct upgrade_result {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;

  /// True when the server switched protocols.
  bool upgraded() const { return status == 101; }
};

/// A synchronous WebSocket client for tools and tests: every call returns within its timeout.
///
/// Each client owns a private io_context and runs it only inside its own calls, so a client
/// must be used by one thread at a time. A read that times out stays pending and delivers its
/// frame to the next read, so a timeout never loses a frame nor breaks the connection.
class ws_client {
public:
  using headers = std::vector<std::pair<std::string, std::string>>;

  ws_client();
  /// A client for wss:// URLs that trusts the CA file of `tls` (see tls_options).
  explicit ws_client(tls_options tls);
  ~ws_client();
  ws_client(ws_client&&) noexcept;
  ws_client& operator=(ws_client&&) noexcept;

  /// Connects to `base_url` ("http://host:port", or "https://" / "wss://" for TLS, the
  /// certificate verified) and requests the upgrade of `target`.
  /// Returns the refusal status when the server declines; throws transport_error when the
  /// node is unreachable or the handshake fails otherwise.
  upgrade_result connect(const std::string& base_url, const std::string& target,
                         const headers& extra_headers = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

  /// Sends one text frame; throws transport_error on failure.
  void send_text(std::string_view text,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Sends one JSON document as a text frame.
  void send_json(const nlohmann::json& frame,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Sends one binary frame.
  void send_binary(std::string_view bytes,
                   std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Sends a WebSocket control ping.
  void ping(std::string_view payload = {},
            std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Reads the next message; nullopt on timeout or once the connection is closed (see closed()).
  std::optional<std::string> read_text(std::chrono::milliseconds timeout);

  /// Reads the next message as JSON; throws transport_error on timeout or close.
  nlohmann::json read_json(std::chrono::milliseconds timeout);

  /// Reads frames until `pred` holds for one; returns all frames read, that one last.
  /// Throws transport_error (naming what was seen) on timeout or close.
  std::vector<nlohmann::json> read_until(const std::function<bool(const nlohmann::json&)>& pred,
                                         std::chrono::milliseconds timeout);

  /// Reads and discards frames until the server closes; true if it did within `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout);

  /// Starts the close handshake with `code` and waits for it within `timeout`.
  void close(int code = 1000, std::chrono::milliseconds timeout = std::chrono::seconds(2));

  /// Drops the TCP connection without a close frame (a vanished client).
  void abort();

  /// True while upgraded and not closed.
  bool is_open() const;

  /// True once the connection ended (close frame, reset or EOF).
  bool closed() const;

  /// The code of the server's close frame, once the server closed with one.
  std::optional<int> close_code() const;

  /// The reason of the server's close frame, if any.
  std::string close_reason() const;

  /// Why the connection ended when it was not a close frame (e.g. "end of stream").
  std::string failure() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace parley::client
