#include "runtime/auth.hpp"

#include "protocol/clock.hpp"
#include "runtime/request_target.hpp"

namespace parley {

user_auth authenticate_user(
  const boost::beast::http::request<boost::beast::http::string_body>& req,
  std::string_view secret, std::string token, std::optional<workspace_id> workspace) {
  user_auth result;
  if (token.empty())
    token = bearer_token(req);
  if (token.empty()) {
    result.error = "missing token";
    return result;
  }
  auto verified = jwt_verify(token, secret, now_us() / 1'000'000);
  if (auto err = std::get_if<jwt_error>(&verified)) {
    result.error = "invalid token: " + std::string(to_string(*err));
    return result;
  }
  auto& claims = std::get<jwt_claims>(verified);
  if (workspace && claims.workspace != *workspace) {
    result.error = "token is for another workspace";
    return result;
  }
  result.claims = claims;
  return result;
}

} // namespace parley
