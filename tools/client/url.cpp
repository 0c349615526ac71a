#include "tools/client/url.hpp"

#include <stdexcept>

namespace parley::client {

endpoint parse_base_url(const std::string& base_url) {
  const std::string scheme = "http://";
  auto fail = [&](const char* why) {
    return std::invalid_argument("bad node URL '" + base_url + "': " + why);
  };
  if (base_url.compare(0, scheme.size(), scheme) != 0)
    throw fail("expected http://host:port");
  std::string rest = base_url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  if (rest.find('/') != std::string::npos)
    throw fail("a node URL has no path");
  endpoint ep;
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    ep.host = rest;
    ep.port = "80";
  } else {
    ep.host = rest.substr(0, colon);
    ep.port = rest.substr(colon + 1);
    if (ep.port.empty() || ep.port.size() > 5 ||
        ep.port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(ep.port) == 0 || std::stoul(ep.port) > 65535)
      throw fail("bad port");
  }
  if (ep.host.empty())
    throw fail("missing host");
  return ep;
}

} // namespace parley::client
