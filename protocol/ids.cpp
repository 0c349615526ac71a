#include "protocol/ids.hpp"

namespace parley {

std::optional<uint64_t> parse_canonical_number(std::string_view digits) {
  // 2^63-1 has 19 digits; anything longer is out of range without overflow checks.
  if (digits.empty() || digits.size() > 19 || digits[0] == '0')
    return std::nullopt;
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (n > static_cast<uint64_t>(INT64_MAX))
    return std::nullopt;
  return n;
}

} // namespace parley
