#pragma once

#include <cstdint>
#include <string>

namespace parley {

/// One node of a cluster file: `node.<name> = host:basp_port:http_port`.
struct cluster_member {
  std::string name;
  std::string host;
  uint16_t basp_port = 0;
  uint16_t http_port = 0;
};

} // namespace parley
