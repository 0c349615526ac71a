#include <catch2/catch.hpp>

#include <string>
#include <unordered_set>

#include "protocol/ids.hpp"

using namespace parley;

TEST_CASE("ids parse the canonical wire form", "[protocol][ids]") {
  auto c = channel_id::parse("C42");
  REQUIRE(c);
  CHECK(c->value == 42);
  CHECK(channel_id::parse("C1")->value == 1);
  CHECK(user_id::parse("U7")->value == 7);
  CHECK(workspace_id::parse("W1")->value == 1);
  CHECK(channel_id::parse("C10")->value == 10);
}

TEST_CASE("ids accept the largest value 2^63-1", "[protocol][ids]") {
  auto c = channel_id::parse("C9223372036854775807");
  REQUIRE(c);
  CHECK(c->value == 9223372036854775807ull);
}

TEST_CASE("ids reject every non-canonical form", "[protocol][ids]") {
  const char* bad[] = {
    "",                      // empty
    "C",                     // prefix only
    "C0",                    // zero is not an id
    "C00",                   //
    "C042",                  // leading zero
    "Cabc",                  // not digits
    "C4a",                   // trailing garbage
    "C-1",                   // sign
    "C+1",                   //
    "C 1",                   // whitespace
    " C1",                   //
    "C1 ",                   //
    "C1.0",                  // not an integer
    "C1e3",                  //
    "c1",                    // lower-case prefix
    "U1",                    // wrong prefix
    "W1",                    //
    "CC1",                   // doubled prefix
    "42",                    // no prefix
    "C9223372036854775808",  // 2^63
    "C18446744073709551615", // 2^64-1
    "C18446744073709551616", // 2^64 would wrap
    "C12345678901234567890", // 20 digits
    "C99999999999999999999", // 20 nines
    "C\xd9\xa1",             // Arabic-Indic digit one
  };
  for (const char* text : bad) {
    INFO("id: " << text);
    CHECK_FALSE(channel_id::parse(text));
  }
}

TEST_CASE("ids reject an embedded NUL", "[protocol][ids]") {
  using namespace std::string_literals;
  CHECK_FALSE(channel_id::parse("C1\0"s));
  CHECK_FALSE(channel_id::parse("C\0"s "1"));
}

TEST_CASE("ids render back to the wire form they were parsed from", "[protocol][ids]") {
  for (std::string text : {"C1", "C42", "C9223372036854775807", "C1000000"}) {
    auto c = channel_id::parse(text);
    REQUIRE(c);
    CHECK(c->str() == text);
  }
  CHECK(user_id{7}.str() == "U7");
  CHECK(workspace_id{3}.str() == "W3");
}

TEST_CASE("parse_canonical_number accepts 1..2^63-1 without leading zeros", "[protocol][ids]") {
  CHECK(parse_canonical_number("1") == 1u);
  CHECK(parse_canonical_number("9223372036854775807") == 9223372036854775807ull);
  CHECK_FALSE(parse_canonical_number(""));
  CHECK_FALSE(parse_canonical_number("0"));
  CHECK_FALSE(parse_canonical_number("01"));
  CHECK_FALSE(parse_canonical_number("9223372036854775808"));
  CHECK_FALSE(parse_canonical_number("99999999999999999999"));
  CHECK_FALSE(parse_canonical_number("-1"));
  CHECK_FALSE(parse_canonical_number("1x"));
}

TEST_CASE("ids compare and hash by value", "[protocol][ids]") {
  CHECK(channel_id{1} == channel_id{1});
  CHECK(channel_id{1} != channel_id{2});
  CHECK(channel_id{1} < channel_id{2});
  CHECK_FALSE(channel_id{2} < channel_id{1});
  std::unordered_set<channel_id> set{channel_id{1}, channel_id{2}, channel_id{1}};
  CHECK(set.size() == 2);
  CHECK(principal{workspace_id{1}, user_id{7}} == principal{workspace_id{1}, user_id{7}});
  CHECK_FALSE(principal{workspace_id{1}, user_id{7}} == principal{workspace_id{2}, user_id{7}});
}
