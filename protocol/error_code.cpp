#include "protocol/error_code.hpp"

namespace parley {

std::string_view to_string(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return "bad_request";
    case error_code::not_in_channel:
      return "not_in_channel";
    case error_code::rate_limited:
      return "rate_limited";
    case error_code::msg_too_long:
      return "msg_too_long";
    case error_code::unavailable:
      return "unavailable";
    case error_code::unauthorized:
      return "unauthorized";
    case error_code::not_found:
      return "not_found";
    case error_code::method_not_allowed:
      return "method_not_allowed";
  }
  return "unknown";
}

int http_status(error_code code) {
  // docs/protocol.md "REST on the same listener".
  switch (code) {
    case error_code::bad_request:
      return 400;
    case error_code::unauthorized:
      return 401;
    case error_code::not_in_channel:
      return 403;
    case error_code::not_found:
      return 404;
    case error_code::method_not_allowed:
      return 405;
    case error_code::msg_too_long:
      return 413;
    case error_code::rate_limited:
      return 429;
    case error_code::unavailable:
      return 503;
  }
  return 500;
}

} // namespace parley
