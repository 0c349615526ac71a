#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace parley {

/// Severity of a log event; events below the configured level are skipped.
enum class log_level { debug, info, warning, error };

/// Sets the level from its name (`--log-level`: debug, info, warning, error); false if unknown.
bool set_log_level(const std::string& name);

/// Names this node in every line (`node=`).
void set_log_node(std::string name);

/// Whether events at `level` are written (check before building an expensive message).
bool log_enabled(log_level level);

/// One event as one line on stderr:
///   `2024-05-01T12:00:00.123Z info node=n1 actor=cluster channel=C7 msg=text to the end`
/// `fields` are `key=value` pairs (values with spaces are quoted). `msg` comes last and runs to
/// the end of the line, so a line can be matched by its ending. Per-message events belong at
/// debug level, never at info.
void log(log_level level, std::string_view msg,
         std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {});

} // namespace parley
