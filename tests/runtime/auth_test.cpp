// The user-token check shared by REST and the WebSocket upgrade (runtime/auth.hpp).

#include <catch2/catch.hpp>

#include "protocol/clock.hpp"
#include "runtime/auth.hpp"

using namespace parley;
namespace http = boost::beast::http;

namespace {

const std::string secret = "auth-test-secret";

std::string token_for(const char* user, const char* workspace, int64_t ttl_s = 3600) {
  auto exp = now_us() / 1'000'000 + ttl_s;
  jwt_claims c{*user_id::parse(user), *workspace_id::parse(workspace), exp};
  return jwt_sign(c, secret);
}

http::request<http::string_body> with_bearer(const std::string& token) {
  http::request<http::string_body> req{http::verb::get, "/v1/channels", 11};
  if (!token.empty())
    req.set(http::field::authorization, "Bearer " + token);
  return req;
}

} // namespace

TEST_CASE("a bearer token yields the caller; a missing or bad one the reason", "[runtime][auth]") {
  auto ok = authenticate_user(with_bearer(token_for("U7", "W2")), secret);
  REQUIRE(ok.claims);
  CHECK(ok.who().user == user_id{7});
  CHECK(ok.who().workspace == workspace_id{2});
  CHECK(ok.error.empty());

  auto missing = authenticate_user(with_bearer(""), secret);
  CHECK_FALSE(missing.claims);
  CHECK(missing.error == "missing token");

  auto forged = authenticate_user(with_bearer(token_for("U7", "W2")), "another-secret");
  CHECK_FALSE(forged.claims);
  CHECK(forged.error == "invalid token: bad_signature");
}

TEST_CASE("expiry has the default leeway", "[runtime][auth]") {
  CHECK(authenticate_user(with_bearer(token_for("U1", "W1", -(jwt_leeway_s - 5))), secret).claims);
  auto expired = authenticate_user(with_bearer(token_for("U1", "W1", -(jwt_leeway_s + 5))), secret);
  CHECK_FALSE(expired.claims);
  CHECK(expired.error == "invalid token: expired");
}

TEST_CASE("an explicit token wins over the header and the workspace is checked",
          "[runtime][auth]") {
  auto req = with_bearer("garbage");
  auto from_query = authenticate_user(req, secret, token_for("U3", "W1"), workspace_id{1});
  REQUIRE(from_query.claims);
  CHECK(from_query.who().user == user_id{3});
  auto other = authenticate_user(req, secret, token_for("U3", "W1"), workspace_id{2});
  CHECK_FALSE(other.claims);
  CHECK(other.error == "token is for another workspace");
}
