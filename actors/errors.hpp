#pragma once

#include <string>

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

/// A refusal as a client reads it: the protocol code and a human text.
struct client_error {
  error_code code = error_code::unavailable;
  std::string message;
};

/// Who asked: a user must not learn whether a channel it is not in exists; an admin may.
enum class asker { user, admin };

/// The one mapping of an actor error to what a client is told, for WebSocket error frames and
/// REST alike: for a user an unknown channel reads as `not_in_channel`; codes the asker
/// cannot meet, timeouts and dead actors become `unavailable`.
client_error to_client_error(const caf::error& err, asker who = asker::user);

} // namespace parley
