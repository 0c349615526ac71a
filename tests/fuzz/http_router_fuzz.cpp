// libFuzzer target: an HTTP request as a client sends it, through Beast's parser (with the
// listener's limits), target splitting, bearer extraction, JWT verification and the router.
#include <cstddef>
#include <cstdint>

#include <boost/beast/http.hpp>

#include "protocol/ids.hpp"
#include "protocol/jwt.hpp"
#include "runtime/request_target.hpp"
#include "runtime/routes.hpp"

namespace http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(8 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec && ec != http::error::need_more)
    return 0;
  if (!parser.is_header_done())
    return 0;
  auto& req = parser.get();
  auto target = parley::parse_target(std::string_view(req.target().data(), req.target().size()));
  (void) parley::match_route(req.method(), target.segments, true);
  if (target.segments.size() >= 3)
    (void) parley::channel_id::parse(target.segments[2]);
  (void) parley::workspace_id::parse(target.param("workspace_id"));
  auto token = parley::bearer_token(req);
  if (token.empty())
    token = target.param("token");
  (void) parley::jwt_verify(token, "fuzz-secret", 1700000000);
  return 0;
}
