#include <catch2/catch.hpp>

#include "runtime/request_target.hpp"

using parley::parse_target;

TEST_CASE("request targets split into decoded segments and query parameters", "[runtime][http]") {
  auto t = parse_target("/v1/channels/C1/messages?after_seq=5&limit=10");
  REQUIRE(t.segments == std::vector<std::string>{"v1", "channels", "C1", "messages"});
  CHECK(t.param("after_seq") == "5");
  CHECK(t.param("limit") == "10");
  CHECK(t.param("missing").empty());
  CHECK_FALSE(t.has("missing"));
}

TEST_CASE("percent escapes are decoded and malformed ones kept verbatim", "[runtime][http]") {
  auto t = parse_target("/v1/ws?token=a%2Eb&workspace_id=W%31&x=%zz&y=%4");
  CHECK(t.param("token") == "a.b");
  CHECK(t.param("workspace_id") == "W1");
  CHECK(t.param("x") == "%zz");
  CHECK(t.param("y") == "%4");
}

TEST_CASE("path traversal stays a literal segment", "[runtime][http]") {
  auto t = parse_target("/v1/channels/..%2F..%2Fetc/messages");
  REQUIRE(t.segments.size() == 4);
  CHECK(t.segments[2] == "../../etc");
}

TEST_CASE("the first occurrence of a repeated query key wins", "[runtime][http]") {
  auto t = parse_target("/x?a=1&a=2&&=3&b");
  CHECK(t.param("a") == "1");
  CHECK(t.has("b"));
  CHECK(t.param("b").empty());
}
