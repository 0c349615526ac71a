#pragma once

#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

namespace parley {

/// Deepest container nesting accepted from untrusted JSON (the top-level object counts as 1).
constexpr int max_json_depth = 32;

/// Parses untrusted JSON; nullopt for invalid JSON (including numbers that overflow a double)
/// or nesting deeper than `max_json_depth` (then `*too_deep` is set when given). Never throws.
std::optional<nlohmann::json> parse_json_limited(std::string_view text,
                                                 bool* too_deep = nullptr) noexcept;

} // namespace parley
