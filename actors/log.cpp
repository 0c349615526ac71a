#include "actors/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace parley {

namespace {

std::atomic<int> min_level{static_cast<int>(log_level::info)};
std::mutex node_mtx;
std::string node_name = "local";

const char* name_of(log_level level) {
  switch (level) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "info";
}

void append_value(std::string& out, std::string_view v) {
  if (!v.empty() && v.find_first_of(" \"=") == std::string_view::npos) {
    out.append(v);
    return;
  }
  out += '"';
  for (auto c : v) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
}

} // namespace

bool set_log_level(const std::string& name) {
  for (auto level : {log_level::debug, log_level::info, log_level::warning, log_level::error})
    if (name == name_of(level) || (name == "warn" && level == log_level::warning)) {
      min_level = static_cast<int>(level);
      return true;
    }
  return false;
}

void set_log_node(std::string name) {
  std::lock_guard<std::mutex> guard{node_mtx};
  node_name = std::move(name);
}

bool log_enabled(log_level level) {
  return static_cast<int>(level) >= min_level.load(std::memory_order_relaxed);
}

void log(log_level level, std::string_view msg,
         std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  if (!log_enabled(level))
    return;
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&secs, &utc);
  char ts[40];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms));
  std::string line;
  line.reserve(128 + msg.size());
  line += ts;
  line += ' ';
  line += name_of(level);
  line += " node=";
  {
    std::lock_guard<std::mutex> guard{node_mtx};
    append_value(line, node_name);
  }
  for (auto& [key, value] : fields) {
    line += ' ';
    line.append(key);
    line += '=';
    append_value(line, value);
  }
  line += " msg=";
  line.append(msg);
  line += '\n';
  // One write per line: concurrent events do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace parley
