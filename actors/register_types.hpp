#pragma once

#include <caf/actor_system_config.hpp>

namespace parley {

/// Registers every message type and error category exactly once; called by parleyd and by
/// every test fixture.
void register_types(caf::actor_system_config& cfg);

} // namespace parley
