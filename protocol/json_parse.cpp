#include "protocol/json_parse.hpp"

namespace parley {

std::optional<nlohmann::json> parse_json_limited(std::string_view text,
                                                 bool* too_deep_out) noexcept {
  if (too_deep_out)
    *too_deep_out = false;
  // nlohmann's lexer takes a raw NUL for the end of input, which would accept trailing bytes
  // after it; JSON never allows an unescaped NUL anywhere (RFC 8259 section 7), so refuse it.
  if (text.find('\0') != std::string_view::npos)
    return std::nullopt;
  try {
    bool too_deep = false;
    // The callback's depth is the number of enclosing containers, so a container starting at
    // depth d is the (d+1)-th level. Deeper containers are discarded instead of built.
    auto cb = [&too_deep](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
      if ((event == nlohmann::json::parse_event_t::object_start
           || event == nlohmann::json::parse_event_t::array_start)
          && depth >= max_json_depth) {
        too_deep = true;
        return false;
      }
      return true;
    };
    auto j = nlohmann::json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/false);
    if (too_deep) {
      if (too_deep_out)
        *too_deep_out = true;
      return std::nullopt;
    }
    if (j.is_discarded())
      return std::nullopt;
    return j;
  } catch (...) {
    // bad_alloc or anything unforeseen: untrusted input never escapes as an exception.
    return std::nullopt;
  }
}

} // namespace parley
