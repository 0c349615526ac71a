#pragma once

#include <cstdint>
#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

namespace parley::storage {

/// Failures of the storage layer, translated from SOCI/driver errors at this boundary.
enum class errc : uint8_t {
  io_failure = 1, // the database could not be reached or the statement failed
  not_found,      // the addressed row does not exist
  invalid,        // the request cannot be stored (bad connection string, schema clash)
};

/// The CAF error category of storage errors.
constexpr caf::atom_value error_category = caf::atom("storage");

/// Wraps a storage failure with a human-readable context message.
caf::error make_error(errc code, std::string message);

/// Renders a storage error code for logs and CAF's error printer.
std::string to_string(errc code);

} // namespace parley::storage
