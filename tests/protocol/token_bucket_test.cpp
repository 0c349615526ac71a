#include <catch2/catch.hpp>

#include "protocol/token_bucket.hpp"

using namespace parley;

namespace {

constexpr int64_t t0 = 1700000000000000; // a realistic epoch in microseconds
constexpr int64_t second = 1000000;

/// Takes every available token at `now`, returning how many there were.
int drain(token_bucket& b, int64_t now) {
  int n = 0;
  while (b.available(now) && n < 100000) {
    b.take();
    ++n;
  }
  return n;
}

} // namespace

TEST_CASE("token bucket starts full with its burst", "[protocol][token_bucket]") {
  token_bucket b(1.0, 5.0);
  CHECK(drain(b, t0) == 5);
  CHECK_FALSE(b.available(t0));
}

TEST_CASE("token bucket available does not take a token", "[protocol][token_bucket]") {
  token_bucket b(1.0, 1.0);
  for (int i = 0; i < 10; ++i)
    CHECK(b.available(t0));
  b.take();
  CHECK_FALSE(b.available(t0));
}

TEST_CASE("token bucket refills one token per 1/rate seconds", "[protocol][token_bucket]") {
  token_bucket b(1.0, 5.0);
  REQUIRE(drain(b, t0) == 5);
  CHECK_FALSE(b.available(t0 + second / 2));
  CHECK_FALSE(b.available(t0 + second - 1));
  CHECK(b.available(t0 + second));
  b.take();
  CHECK_FALSE(b.available(t0 + second));
  CHECK(drain(b, t0 + 3 * second) == 2);
}

TEST_CASE("token bucket accumulates partial refills", "[protocol][token_bucket]") {
  token_bucket b(1.0, 5.0);
  REQUIRE(drain(b, t0) == 5);
  for (int i = 1; i < 10; ++i)
    CHECK_FALSE(b.available(t0 + i * second / 10));
  CHECK(b.available(t0 + second));
}

TEST_CASE("token bucket caps the refill at its burst", "[protocol][token_bucket]") {
  token_bucket b(1.0, 5.0);
  REQUIRE(drain(b, t0) == 5);
  CHECK(drain(b, t0 + 1000 * second) == 5);
}

TEST_CASE("token bucket ignores time going backwards", "[protocol][token_bucket]") {
  token_bucket b(1.0, 2.0);
  REQUIRE(drain(b, t0 + 10 * second) == 2);
  CHECK_FALSE(b.available(t0));
  CHECK_FALSE(b.available(t0 + 5 * second));
  // The step back must not make the next forward step count the same time twice.
  CHECK_FALSE(b.available(t0 + 10 * second + second / 2));
  CHECK(b.available(t0 + 11 * second));
  CHECK(drain(b, t0 + 11 * second) == 1);
}

TEST_CASE("token bucket refills fractional rates", "[protocol][token_bucket]") {
  token_bucket b(0.5, 1.0);
  REQUIRE(drain(b, t0) == 1);
  CHECK_FALSE(b.available(t0 + second));
  CHECK_FALSE(b.available(t0 + 2 * second - 1));
  CHECK(b.available(t0 + 2 * second));
}

TEST_CASE("workspace quota bucket allows 1000 at once then one per millisecond",
          "[protocol][token_bucket]") {
  token_bucket b(1000.0, 1000.0);
  CHECK(drain(b, t0) == 1000);
  CHECK_FALSE(b.available(t0 + 999));
  CHECK(drain(b, t0 + 1000) == 1);
  CHECK(drain(b, t0 + 11000) == 10);
}

TEST_CASE("token bucket with exact refills never loses a token to rounding",
          "[protocol][token_bucket]") {
  token_bucket b(1.0, 5.0);
  REQUIRE(drain(b, t0) == 5);
  int granted = 0;
  for (int i = 1; i <= 1000; ++i)
    granted += drain(b, t0 + i * second);
  CHECK(granted == 1000);
}

TEST_CASE("token bucket with zero burst never grants", "[protocol][token_bucket]") {
  token_bucket b(10.0, 0.0);
  CHECK_FALSE(b.available(t0));
  CHECK_FALSE(b.available(t0 + 100 * second));
}

TEST_CASE("token bucket first use at any time starts full", "[protocol][token_bucket]") {
  token_bucket early(1.0, 3.0);
  CHECK(drain(early, 0) == 3);
  token_bucket late(1.0, 3.0);
  CHECK(drain(late, t0 * 2) == 3);
}
