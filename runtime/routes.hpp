#pragma once

#include <string>
#include <vector>

#include <ostream>

#include <boost/beast/http/verb.hpp>

namespace parley {

/// What an HTTP request asks for (docs/protocol.md "REST on the same listener"). Pure: no I/O, so
/// the router can be tested and fuzzed on its own.
enum class endpoint {
  web_page,           // GET outside /v1, /metrics, /healthz: the chat page
  healthz,
  metrics,
  post_message,       // POST /v1/channels/{id}/messages
  get_messages,       // GET  /v1/channels/{id}/messages
  get_presence,       // GET  /v1/channels/{id}/presence
  open_dm,            // POST /v1/dms
  list_channels,      // GET  /v1/channels: the caller's channels
  create_channel,     // POST /v1/channels (admin)
  add_members,        // POST /v1/channels/{id}/members (admin)
  remove_member,      // DELETE /v1/channels/{id}/members/{user} (admin)
  dev_token,          // POST /v1/dev/token (dev login only)
  admin_actors,       // GET /v1/admin/actors (admin)
  ws_without_upgrade, // /v1/ws without an upgrade
  method_not_allowed,
  not_found,
};

/// Matches a request's method and path segments to an endpoint.
endpoint match_route(boost::beast::http::verb method, const std::vector<std::string>& segments,
                     bool dev_login);

/// The methods a path answers, for the `Allow` header of a 405 (e.g. "GET, POST"); empty for
/// a path that does not exist.
std::string allowed_methods(const std::vector<std::string>& segments, bool dev_login);

} // namespace parley
