#include "tools/client/url.hpp"

#include <stdexcept>

namespace parley::client {

endpoint parse_base_url(const std::string& base_url) {
  auto fail = [&](const char* why) {
    return std::invalid_argument("bad node URL '" + base_url + "': " + why);
  };
  auto sep = base_url.find("://");
  auto scheme = sep == std::string::npos ? std::string() : base_url.substr(0, sep);
  endpoint ep;
  if (scheme == "https" || scheme == "wss")
    ep.tls = true;
  else if (scheme != "http" && scheme != "ws")
    throw fail("expected http://host:port or https://host:port");
  std::string rest = base_url.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  if (rest.find('/') != std::string::npos)
    throw fail("a node URL has no path");
  auto colon = rest.rfind(':');
  if (colon == std::string::npos) {
    ep.host = rest;
    ep.port = ep.tls ? "443" : "80";
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
