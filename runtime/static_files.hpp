#pragma once

#include <string>
#include <vector>

#include "runtime/rest_api.hpp"

namespace parley {

/// Serves one file of the web page (docs/architecture.md "Layout") from `web_dir`: no segments ->
/// index.html, otherwise a single plain file name with a known extension; anything else -> 404
/// JSON.
rest_reply serve_static(const std::string& web_dir, const std::vector<std::string>& segments);

} // namespace parley
