#include "runtime/static_files.hpp"

#include <fstream>
#include <sstream>

namespace parley {

namespace {

/// The content type of a servable file, empty for an extension that is not served.
std::string content_type_of(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos)
    return {};
  auto ext = name.substr(dot + 1);
  if (ext == "html")
    return "text/html; charset=utf-8";
  if (ext == "js")
    return "text/javascript; charset=utf-8"; // ES modules need a JavaScript MIME type
  if (ext == "css")
    return "text/css; charset=utf-8";
  if (ext == "svg")
    return "image/svg+xml";
  if (ext == "png")
    return "image/png";
  if (ext == "ico")
    return "image/x-icon";
  return {};
}

/// A flat file name of [A-Za-z0-9_.-] not starting with a dot: no separators, no "..", no
/// hidden files, so a request can never leave the web directory.
bool safe_name(const std::string& name) {
  if (name.empty() || name.size() > 100 || name[0] == '.')
    return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-' || c == '.';
    if (!ok)
      return false;
  }
  return true;
}

} // namespace

rest_reply serve_static(const std::string& web_dir, const std::vector<std::string>& segments) {
  auto not_found = [] { return error_reply(404, "not_found", "no such endpoint"); };
  if (segments.size() > 1)
    return not_found();
  std::string name = segments.empty() ? "index.html" : segments[0];
  auto type = content_type_of(name);
  if (!safe_name(name) || type.empty())
    return not_found();
  std::ifstream in{web_dir + "/" + name, std::ios::binary};
  if (!in)
    return not_found();
  std::ostringstream bytes;
  bytes << in.rdbuf();
  rest_reply r;
  r.content_type = std::move(type);
  r.raw = bytes.str();
  if (r.raw.empty()) // an empty raw body would fall back to the JSON body
    r.raw = "\n";
  return r;
}

} // namespace parley
