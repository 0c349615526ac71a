#include <catch2/catch.hpp>

#include <map>

#include "protocol/rendezvous.hpp"

using namespace parley;

TEST_CASE("rendezvous hashing picks the same owner regardless of node order",
          "[protocol][placement]") {
  std::vector<std::string> a{"n1", "n2", "n3"};
  std::vector<std::string> b{"n3", "n1", "n2"};
  for (uint64_t c = 1; c <= 500; ++c)
    REQUIRE(rendezvous_owner(channel_id{c}, a) == rendezvous_owner(channel_id{c}, b));
}

TEST_CASE("rendezvous hashing spreads channels over nodes", "[protocol][placement]") {
  std::vector<std::string> nodes{"n1", "n2", "n3"};
  std::map<std::string, int> count;
  for (uint64_t c = 1; c <= 3000; ++c)
    ++count[rendezvous_owner(channel_id{c}, nodes)];
  REQUIRE(count.size() == 3);
  for (auto& [node, n] : count) {
    CHECK(n > 800);
    CHECK(n < 1200);
  }
}

TEST_CASE("removing a node moves only that node's channels", "[protocol][placement]") {
  std::vector<std::string> all{"n1", "n2", "n3"};
  std::vector<std::string> without_n2{"n1", "n3"};
  int moved = 0;
  for (uint64_t c = 1; c <= 2000; ++c) {
    auto before = rendezvous_owner(channel_id{c}, all);
    auto after = rendezvous_owner(channel_id{c}, without_n2);
    if (before != "n2")
      REQUIRE(before == after);
    else
      ++moved;
    CHECK(after != "n2");
  }
  CHECK(moved > 0);
}

TEST_CASE("rendezvous hashing has no owner without nodes and a stable hash",
          "[protocol][placement]") {
  CHECK(rendezvous_owner(channel_id{1}, {}).empty());
  CHECK(rendezvous_owner(channel_id{7}, {"solo"}) == "solo");
  CHECK(stable_hash("parley") == stable_hash("parley"));
  CHECK(stable_hash("parley") != stable_hash("parlez"));
}
