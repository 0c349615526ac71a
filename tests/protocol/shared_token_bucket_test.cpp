#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "protocol/shared_token_bucket.hpp"
#include "protocol/token_bucket.hpp"

using namespace parley;

namespace {

constexpr int64_t t0 = 1700000000000000; // a realistic epoch in microseconds
constexpr int64_t second = 1000000;

int drain(shared_token_bucket& b, int64_t now) {
  int n = 0;
  while (n < 100000 && b.try_take(now))
    ++n;
  return n;
}

} // namespace

TEST_CASE("shared token bucket starts full with its burst", "[protocol][token_bucket]") {
  shared_token_bucket b(1000.0, 1000.0);
  CHECK(drain(b, t0) == 1000);
  CHECK_FALSE(b.try_take(t0));
}

TEST_CASE("shared token bucket refills at its rate up to the burst", "[protocol][token_bucket]") {
  shared_token_bucket b(1.0, 5.0);
  CHECK(drain(b, t0) == 5);
  CHECK(drain(b, t0 + second / 2) == 0);
  CHECK(drain(b, t0 + second) == 1);
  CHECK(drain(b, t0 + 3 * second) == 2);
  CHECK(drain(b, t0 + 100 * second) == 5); // never more than the burst
}

TEST_CASE("shared token bucket admits what token_bucket admits", "[protocol][token_bucket]") {
  // The same sequence of attempts, 0.25 s apart (exact in binary), against both buckets.
  shared_token_bucket shared(2.0, 3.0);
  token_bucket plain(2.0, 3.0);
  for (int i = 0; i < 200; ++i) {
    auto now = t0 + i * (second / 4);
    for (int k = 0; k < (i % 4); ++k) {
      bool expected = plain.available(now);
      if (expected)
        plain.take();
      INFO("attempt " << i << "." << k);
      CHECK(shared.try_take(now) == expected);
    }
  }
}

TEST_CASE("shared token bucket never hands out more than its burst to racing threads",
          "[protocol][token_bucket]") {
  shared_token_bucket b(1.0, 5000.0);
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i)
        if (b.try_take(t0))
          ++taken;
    });
  for (auto& th : threads)
    th.join();
  CHECK(taken == 5000);
}
