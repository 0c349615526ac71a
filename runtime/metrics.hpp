#pragma once

#include <string>

#include "runtime/server_context.hpp"

namespace parley {

/// Renders the node's figures in the Prometheus text format.
std::string render_metrics(server_context& ctx);

} // namespace parley
