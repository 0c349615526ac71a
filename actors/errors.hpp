#pragma once

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "protocol/error_code.hpp"

namespace parley {

/// The CAF error category carrying protocol error codes between actors.
constexpr caf::atom_value protocol_error_category = caf::atom("parley");

/// Wraps a protocol error code for an actor response.
caf::error make_error(error_code code);

/// Maps an actor error back to the protocol code a client sees: protocol errors keep their
/// code; timeouts, dead actors and storage failures become `unavailable`.
error_code to_error_code(const caf::error& err);

} // namespace parley
