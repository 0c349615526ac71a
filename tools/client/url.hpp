#pragma once

#include <string>

namespace parley::client {

/// Host and port of a node, parsed from a base URL such as "http://127.0.0.1:8080".
struct endpoint {
  std::string host;
  std::string port;
  bool tls = false; // https:// or wss://

  /// Renders "host:port", the value of the HTTP Host header.
  std::string host_header() const { return host + ":" + port; }
};

/// Parses "<scheme>://host[:port][/]" with scheme http or ws (port defaults to 80) or https
/// or wss (TLS; port defaults to 443); throws std::invalid_argument otherwise.
endpoint parse_base_url(const std::string& base_url);

} // namespace parley::client
