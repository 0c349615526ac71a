#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http.hpp>

#include "protocol/ids.hpp"
#include "protocol/jwt.hpp"

namespace parley {

/// A user token checked for an HTTP request: the verified claims, or why it was refused.
struct user_auth {
  std::optional<jwt_claims> claims; // set when the token was accepted
  std::string error;                // otherwise: the message of the 401 answer

  /// The caller as the actors know it; only when `claims` is set.
  principal who() const { return principal{claims->workspace, claims->user}; }
};

/// The one user-token check of the REST calls and the WebSocket upgrade (docs/protocol.md
/// "Connect and authenticate"): `token` if not empty, else the `Authorization: Bearer` token of
/// `req`; an HS256 signature with `secret`, `exp` checked now with the default leeway; and, when
/// `workspace` is given, a token of that workspace.
user_auth authenticate_user(
  const boost::beast::http::request<boost::beast::http::string_body>& req,
  std::string_view secret, std::string token = {},
  std::optional<workspace_id> workspace = std::nullopt);

} // namespace parley
