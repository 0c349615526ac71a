#pragma once

#include <memory>
#include <string>

#include "runtime/config.hpp"

namespace parley {

/// One running Parley node: actor system, storage, listener. Construction starts it
/// (throwing std::runtime_error with a one-line message on a start-up failure).
class node {
public:
  explicit node(node_config cfg);
  ~node();

  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// The bound HTTP port.
  uint16_t port() const;

  /// The effective configuration (with generated secrets and the connection cap).
  const node_config& config() const;

  /// Blocks until SIGINT or SIGTERM.
  void wait_for_signal();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Raises the open-file soft limit to the hard limit; returns the new soft limit.
size_t raise_open_file_limit();

} // namespace parley
