#pragma once

#include <memory>
#include <string>

#include "actors/actor_metrics.hpp"
#include "actors/node_counters.hpp"
#include "actors/node_limits.hpp"

namespace parley {

/// What every actor of a node is given at spawn: the node's name and limits, and where to
/// count. A value set before any traffic and copied into each actor; nothing in it is locked
/// (the metrics are prometheus counters and gauges, the counters atomics).
struct node_env {
  std::string name = "local";
  node_limits limits;
  metrics_ptr metrics = std::make_shared<actor_metrics>();       // read by /metrics
  std::shared_ptr<node_counters> counters = std::make_shared<node_counters>(); // and tests
};

} // namespace parley
