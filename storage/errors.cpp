#include "storage/errors.hpp"

#include <utility>

#include <caf/make_message.hpp>
#include <caf/message.hpp>

namespace parley::storage {

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

std::string to_string(errc code) {
  switch (code) {
    case errc::io_failure:
      return "io_failure";
    case errc::not_found:
      return "not_found";
    case errc::invalid:
      return "invalid";
  }
  return "unknown_storage_error";
}

} // namespace parley::storage
