#pragma once

#include <string_view>

namespace parley {

/// Error codes of the wire protocol and REST (docs/protocol.md "Error codes").
enum class error_code {
  bad_request,
  not_in_channel,
  rate_limited,
  msg_too_long,
  unavailable,
  unauthorized, // REST only
  not_found,    // REST only
  method_not_allowed, // REST only: the path exists, the method does not (HTTP 405)
};

/// The wire spelling, e.g. "not_in_channel".
std::string_view to_string(error_code code);

/// The HTTP status REST answers with for this code.
int http_status(error_code code);

} // namespace parley
