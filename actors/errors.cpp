#include "actors/errors.hpp"

namespace parley {

caf::error make_error(error_code code) {
  return caf::error(static_cast<uint8_t>(static_cast<int>(code) + 1), protocol_error_category);
}

error_code to_error_code(const caf::error& err) {
  if (err.category() == protocol_error_category && err.code() > 0)
    return static_cast<error_code>(err.code() - 1);
  return error_code::unavailable;
}

client_error to_client_error(const caf::error& err, asker who) {
  auto code = to_error_code(err);
  if (who == asker::user) {
    // Existence is not revealed: an unknown channel looks like one the user is not in.
    if (code == error_code::not_found)
      code = error_code::not_in_channel;
    if (code == error_code::not_in_channel)
      return {code, "not a member of this channel"};
    if (code == error_code::rate_limited)
      return {code, "too many messages, slow down"};
  } else if (code == error_code::not_found) {
    return {code, "no such channel"};
  }
  return {error_code::unavailable, "temporarily unavailable, retry later"};
}

} // namespace parley
