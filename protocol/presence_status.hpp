#pragma once

#include <optional>
#include <string_view>

namespace parley {

/// A user's presence as shown to other members.
enum class presence_status { online, away, offline };

/// The wire spelling: "online", "away", "offline".
std::string_view to_string(presence_status s);

/// Parses the wire spelling.
std::optional<presence_status> parse_presence_status(std::string_view s);

} // namespace parley
