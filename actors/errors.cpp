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

} // namespace parley
