#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include <caf/actor_system.hpp>

#include "actors/node_actors.hpp"
#include "runtime/config.hpp"

namespace parley {

class io_lanes;
class rest_api;

/// What the Beast listener and its sessions share with the actor side.
struct server_context {
  caf::actor_system& system;
  std::shared_ptr<const node_actors> node; // set before the listener starts
  node_config config;
  size_t max_connections = 0;
  std::atomic<size_t> open_connections{0};
  std::atomic<uint64_t> next_connection_id{1};
  rest_api* rest = nullptr;
  io_lanes* lanes = nullptr; // the Asio threads sessions run on (runtime/io_lanes.hpp)
  std::shared_ptr<boost::asio::ssl::context> tls; // set: the listener serves TLS only

  server_context(caf::actor_system& sys, std::shared_ptr<const node_actors> n, node_config cfg)
    : system(sys), node(std::move(n)), config(std::move(cfg)) {}
};

} // namespace parley
