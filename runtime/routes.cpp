#include "runtime/routes.hpp"

namespace parley {

using boost::beast::http::verb;

namespace {

endpoint only(verb method, verb allowed, endpoint e) {
  return method == allowed ? e : endpoint::method_not_allowed;
}

} // namespace

endpoint match_route(verb m, const std::vector<std::string>& s, bool dev_login) {
  // Everything outside the API is the web page.
  if (m == verb::get && (s.empty() || (s[0] != "v1" && s[0] != "metrics" && s[0] != "healthz")))
    return endpoint::web_page;
  if (s.size() == 1 && s[0] == "healthz")
    return only(m, verb::get, endpoint::healthz);
  if (s.size() == 1 && s[0] == "metrics")
    return only(m, verb::get, endpoint::metrics);
  if (s.size() < 2 || s[0] != "v1")
    return endpoint::not_found;
  auto& area = s[1];
  if (area == "channels") {
    if (s.size() == 2) {
      if (m == verb::get)
        return endpoint::list_channels;
      return only(m, verb::post, endpoint::create_channel);
    }
    if (s.size() == 4 && s[3] == "messages") {
      if (m == verb::post)
        return endpoint::post_message;
      return only(m, verb::get, endpoint::get_messages);
    }
    if (s.size() == 4 && s[3] == "presence")
      return only(m, verb::get, endpoint::get_presence);
    if (s.size() == 4 && s[3] == "members")
      return only(m, verb::post, endpoint::add_members);
    if (s.size() == 5 && s[3] == "members")
      return only(m, verb::delete_, endpoint::remove_member);
    return endpoint::not_found;
  }
  if (area == "dms" && s.size() == 2)
    return only(m, verb::post, endpoint::open_dm);
  if (area == "dev" && s.size() == 3 && s[2] == "token" && dev_login)
    return only(m, verb::post, endpoint::dev_token);
  if (area == "ws" && s.size() == 2)
    return endpoint::ws_without_upgrade;
  if (area == "admin" && s.size() == 3 && s[2] == "actors")
    return only(m, verb::get, endpoint::admin_actors);
  return endpoint::not_found;
}

std::string allowed_methods(const std::vector<std::string>& segments, bool dev_login) {
  std::string allow;
  for (auto m : {verb::get, verb::post, verb::delete_}) {
    auto e = match_route(m, segments, dev_login);
    if (e == endpoint::method_not_allowed || e == endpoint::not_found)
      continue;
    if (!allow.empty())
      allow += ", ";
    allow += std::string(boost::beast::http::to_string(m));
  }
  return allow;
}

} // namespace parley
