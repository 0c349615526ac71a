#pragma once

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>

#include "tools/client/tls.hpp"

namespace parley::client {

/// A transport failure: the node is unreachable, the deadline passed, or the reply was not HTTP.
struct transport_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// One HTTP reply; header names are lower-cased.
struct http_response {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};

/// Performs one HTTP/1.1 request against `base_url` ("http://host:port" or
/// "https://host:port", verified with `tls`) within `timeout`.
/// `bearer`, when not empty, is sent as `Authorization: Bearer <bearer>`; a non-empty body is
/// sent as application/json. Throws transport_error, a failed certificate check included (or
/// std::invalid_argument for a bad URL or CA file); any HTTP status, 4xx and 5xx included, is
/// returned.
http_response http_request(const std::string& base_url, const std::string& method,
                           const std::string& target, const std::string& body,
                           const std::string& bearer,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10),
                           const tls_options& tls = {});

} // namespace parley::client
