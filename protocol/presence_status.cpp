#include "protocol/presence_status.hpp"

namespace parley {

std::string_view to_string(presence_status s) {
  switch (s) {
    case presence_status::online:
      return "online";
    case presence_status::away:
      return "away";
    case presence_status::offline:
      return "offline";
  }
  return "offline";
}

std::optional<presence_status> parse_presence_status(std::string_view s) {
  if (s == "online")
    return presence_status::online;
  if (s == "away")
    return presence_status::away;
  if (s == "offline")
    return presence_status::offline;
  return std::nullopt;
}

} // namespace parley
