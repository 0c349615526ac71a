#pragma once

// The shape of every --help text of the project (parleyd, parley, parley-bench): one line per
// option, "  --name VALUE  description".

#include <sstream>
#include <string>

#include <catch2/catch.hpp>

namespace parley::test {

/// Counts the option lines of a --help text, CHECKing that each has a description beside it.
inline size_t described_options(const std::string& help) {
  std::istringstream lines(help);
  std::string line;
  size_t listed = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("  --", 0) != 0)
      continue;
    ++listed;
    INFO(line);
    auto gap = line.find("  ", 4);
    REQUIRE(gap != std::string::npos);
    CHECK(line.find_first_not_of(' ', gap) != std::string::npos);
  }
  return listed;
}

} // namespace parley::test
