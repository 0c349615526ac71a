#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "protocol/ids.hpp"

namespace parley {

/// The claims Parley reads from a user token (docs/protocol.md "Connect and authenticate").
struct jwt_claims {
  user_id user;           // `sub`, e.g. "U7"
  workspace_id workspace; // `wid`, e.g. "W1"
  int64_t exp = 0;        // seconds since the epoch; required
};

/// Why a token was refused (all map to HTTP 401).
enum class jwt_error { malformed, bad_alg, bad_signature, missing_exp, expired, bad_claims };

std::string_view to_string(jwt_error e);

/// Default leeway for `exp`, in seconds.
constexpr int64_t jwt_leeway_s = 30;

/// Mints an HS256 token with `sub`, `wid`, `exp`.
std::string jwt_sign(const jwt_claims& claims, std::string_view secret);

/// Verifies an HS256 token: alg must be HS256, signature valid (constant-time compare),
/// `exp` present and now <= exp + leeway, `sub`/`wid` canonical ids.
std::variant<jwt_claims, jwt_error> jwt_verify(std::string_view token, std::string_view secret,
                                               int64_t now_s, int64_t leeway_s = jwt_leeway_s);

/// Constant-time equality, for admin tokens.
bool constant_time_equal(std::string_view a, std::string_view b);

/// A random token of `bytes` random bytes, hex encoded (dev secrets, session ids).
std::string random_hex(size_t bytes);

} // namespace parley
