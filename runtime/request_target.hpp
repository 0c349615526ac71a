#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http.hpp>

namespace parley {

/// A request target split into path segments and decoded query parameters.
struct request_target {
  std::string path;
  std::vector<std::string> segments; // "/v1/channels/C1" -> {"v1","channels","C1"}
  std::map<std::string, std::string> query;

  /// A query parameter, empty when absent.
  std::string param(const std::string& key) const {
    auto i = query.find(key);
    return i == query.end() ? std::string{} : i->second;
  }
  bool has(const std::string& key) const { return query.count(key) > 0; }
};

/// Splits and percent-decodes a target; malformed escapes are kept verbatim.
request_target parse_target(std::string_view target);

/// The token of an `Authorization: Bearer <token>` header, empty when absent.
std::string bearer_token(const boost::beast::http::request<boost::beast::http::string_body>& req);

} // namespace parley
