// libFuzzer target: an HTTP request as a client sends it, through Beast's parser (with the
// listener's limits), target splitting, bearer extraction, JWT verification and the router.
#include <cstddef>
#include <cstdint>

#include <boost/beast/http.hpp>

#include "protocol/ids.hpp"
#include "runtime/auth.hpp"
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
  (void) parley::allowed_methods(target.segments, true);
  if (target.segments.size() >= 3)
    (void) parley::channel_id::parse(target.segments[2]);
  auto ws = parley::workspace_id::parse(target.param("workspace_id"));
  (void) parley::authenticate_user(req, "fuzz-secret", target.param("token"), ws);
  return 0;
}
