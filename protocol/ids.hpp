#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace parley {

/// A strongly typed numeric id with a one-letter wire prefix (docs/protocol.md "Identifiers").
template <char Prefix>
struct named_id {
  static constexpr char prefix = Prefix;
  uint64_t value = 0;

  constexpr named_id() = default;
  constexpr explicit named_id(uint64_t v) : value(v) {}

  /// Parses the canonical wire form: prefix, then 1 ... 2^63-1 without leading zeros.
  static std::optional<named_id> parse(std::string_view text);

  /// Renders the wire form, e.g. "C42".
  std::string str() const { return std::string(1, Prefix) + std::to_string(value); }

  friend bool operator==(named_id a, named_id b) { return a.value == b.value; }
  friend bool operator!=(named_id a, named_id b) { return a.value != b.value; }
  friend bool operator<(named_id a, named_id b) { return a.value < b.value; }
};

/// Parses the digits of a canonical id: no sign, no leading zero, 1 ... 2^63-1.
std::optional<uint64_t> parse_canonical_number(std::string_view digits);

template <char Prefix>
std::optional<named_id<Prefix>> named_id<Prefix>::parse(std::string_view text) {
  if (text.size() < 2 || text[0] != Prefix)
    return std::nullopt;
  auto n = parse_canonical_number(text.substr(1));
  if (!n)
    return std::nullopt;
  return named_id{*n};
}

using workspace_id = named_id<'W'>;
using channel_id = named_id<'C'>;
using user_id = named_id<'U'>;

/// Identity of a user: user ids are scoped by workspace.
struct principal {
  workspace_id workspace;
  user_id user;
  friend bool operator==(const principal& a, const principal& b) {
    return a.workspace == b.workspace && a.user == b.user;
  }
};

} // namespace parley

namespace std {
template <char Prefix>
struct hash<parley::named_id<Prefix>> {
  size_t operator()(parley::named_id<Prefix> x) const noexcept {
    return std::hash<uint64_t>{}(x.value);
  }
};
} // namespace std
