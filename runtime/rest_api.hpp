#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "runtime/server_context.hpp"

namespace parley {

/// An HTTP answer: status and JSON body (empty body for 204).
struct rest_reply {
  int status = 200;
  nlohmann::json body;
  std::string content_type = "application/json";
  std::string raw; // used instead of `body` when set (e.g. /metrics)
  std::vector<std::pair<std::string, std::string>> headers; // extra headers, e.g. `Allow`
};

/// The REST endpoints of docs/protocol.md on the shared listener. Runs on Asio threads and never
/// blocks them: actor requests go through short-lived actors that call back.
class rest_api {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;
  using callback = std::function<void(rest_reply)>;

  explicit rest_api(server_context& ctx) : ctx_(ctx) {}

  /// Handles one request; `done` is called exactly once, on any thread.
  void handle(const request& req, callback done);

private:
  server_context& ctx_;
};

/// A JSON error body `{"code","message"}` with its status.
rest_reply error_reply(int status, const std::string& code, const std::string& message);

} // namespace parley
