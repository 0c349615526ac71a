#include <catch2/catch.hpp>

#include "runtime/request_target.hpp"
#include "runtime/routes.hpp"

using namespace parley;
using boost::beast::http::verb;

namespace {

endpoint route(verb m, const char* target, bool dev = false) {
  return match_route(m, parse_target(target).segments, dev);
}

} // namespace

TEST_CASE("REST routes map to their endpoints", "[runtime][routes]") {
  CHECK(route(verb::post, "/v1/channels/C1/messages") == endpoint::post_message);
  CHECK(route(verb::get, "/v1/channels/C1/messages?after_seq=3") == endpoint::get_messages);
  CHECK(route(verb::get, "/v1/channels/C1/presence") == endpoint::get_presence);
  CHECK(route(verb::post, "/v1/dms") == endpoint::open_dm);
  CHECK(route(verb::post, "/v1/channels") == endpoint::create_channel);
  CHECK(route(verb::get, "/v1/channels") == endpoint::list_channels);
  CHECK(route(verb::post, "/v1/channels/C1/members") == endpoint::add_members);
  CHECK(route(verb::delete_, "/v1/channels/C1/members/U2") == endpoint::remove_member);
  CHECK(route(verb::get, "/v1/admin/actors") == endpoint::admin_actors);
  CHECK(route(verb::get, "/healthz") == endpoint::healthz);
  CHECK(route(verb::get, "/metrics") == endpoint::metrics);
  CHECK(route(verb::get, "/v1/ws") == endpoint::ws_without_upgrade);
}

TEST_CASE("the web page answers every other GET", "[runtime][routes]") {
  CHECK(route(verb::get, "/") == endpoint::web_page);
  CHECK(route(verb::get, "/app.js") == endpoint::web_page);
  CHECK(route(verb::get, "/../../etc/passwd") == endpoint::web_page); // refused by static_files
}

TEST_CASE("wrong methods and unknown paths are refused", "[runtime][routes]") {
  CHECK(route(verb::delete_, "/v1/channels/C1/messages") == endpoint::method_not_allowed);
  CHECK(route(verb::get, "/v1/dms") == endpoint::method_not_allowed);
  CHECK(route(verb::post, "/healthz") == endpoint::method_not_allowed);
  CHECK(route(verb::post, "/v2/channels") == endpoint::not_found);
  CHECK(route(verb::get, "/v1/channels/C1/messages/extra") == endpoint::not_found);
  CHECK(route(verb::post, "/v1") == endpoint::not_found);
}

TEST_CASE("a 405 lists the methods the path answers", "[runtime][routes]") {
  auto allow = [](const char* target, bool dev = false) {
    return allowed_methods(parse_target(target).segments, dev);
  };
  CHECK(allow("/v1/channels/C1/messages") == "GET, POST");
  CHECK(allow("/v1/dms") == "POST");
  CHECK(allow("/v1/channels") == "GET, POST");
  CHECK(allow("/v1/channels/C1/members/U2") == "DELETE");
  CHECK(allow("/healthz") == "GET");
  CHECK(allow("/v1/dev/token") == "");
  CHECK(allow("/v1/dev/token", true) == "POST");
  CHECK(allow("/v1/nope") == "");
}

TEST_CASE("dev login exists only when enabled", "[runtime][routes]") {
  CHECK(route(verb::post, "/v1/dev/token") == endpoint::not_found);
  CHECK(route(verb::post, "/v1/dev/token", true) == endpoint::dev_token);
}
