#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include <unistd.h>

#include "runtime/config.hpp"

using parley::parse_config;
using parley::workspace_id;

TEST_CASE("the single storage key is the only shard", "[runtime][config][shards]") {
  auto defaults = parse_config({"--data-dir=/tmp/d"});
  CHECK(defaults.storage_shards == std::vector<std::string>{"sqlite3://db=/tmp/d/parley.db"});
  CHECK(defaults.storage_overrides.empty());
  auto single = parse_config({"--storage=sqlite3://db=/tmp/one.db"});
  CHECK(single.storage_shards == std::vector<std::string>{"sqlite3://db=/tmp/one.db"});
}

TEST_CASE("a cluster file lists storage shards and overrides", "[runtime][config][shards]") {
  char path[] = "/tmp/parley-shards-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out{path};
    out << "storage.shard.1 = mysql://host=db2 port=3306 db=parley user=p password=x\n"
           "storage.shard.0 = mysql://host=db1 port=3306 db=parley user=p password=x\n"
           "storage.shard-override.W42 = 1\n";
  }
  auto cfg = parse_config({std::string("--config=") + path,
                           "--storage.shard.1=sqlite3://db=/tmp/replaced.db"});
  std::remove(path);
  REQUIRE(cfg.storage_shards.size() == 2);
  CHECK(cfg.storage_shards[0] == "mysql://host=db1 port=3306 db=parley user=p password=x");
  CHECK(cfg.storage_shards[1] == "sqlite3://db=/tmp/replaced.db"); // the command line wins
  CHECK(cfg.storage_overrides == std::map<workspace_id, size_t>{{workspace_id{42}, 1}});
  CHECK(cfg.storage.empty());
}

TEST_CASE("a bad shard list is refused with a one-line message", "[runtime][config][shards]") {
  CHECK_THROWS_WITH(
    parse_config({"--storage.shard.0=sqlite3://db=a", "--storage.shard.2=sqlite3://db=c"}),
    Catch::Contains("storage.shard.1 is missing"));
  CHECK_THROWS_WITH(
    parse_config({"--storage.shard.0=sqlite3://db=a", "--storage.shard-override.W3=1"}),
    Catch::Contains("names no shard (have 1)"));
  CHECK_THROWS_WITH(parse_config({"--storage.shard-override.3=0"}),
                    Catch::Contains("not a workspace id"));
  CHECK_THROWS_WITH(parse_config({"--storage.shard.x=sqlite3://db=a"}),
                    Catch::Contains("integer"));
  CHECK_THROWS_WITH(parse_config({"--storage.shard.0="}), Catch::Contains("connection string"));
  CHECK_THROWS_WITH(parse_config({"--storage.shard.99999=sqlite3://db=a"}),
                    Catch::Contains("at most 32768 shards"));
  CHECK_THROWS_WITH(parse_config({"--storage=sqlite3://db=a", "--storage.shard.0=sqlite3://db=b"}),
                    Catch::Contains("exclude each other"));
}

TEST_CASE("the production example cluster file parses", "[runtime][config][shards]") {
  // PARLEY_WEB_DIR is the source tree's web/ (runtime/CMakeLists.txt).
  auto file = std::string(PARLEY_WEB_DIR) + "/../cluster-config/production.example";
  auto cfg = parse_config({"--config=" + file, "--node=n2"});
  CHECK(cfg.members.size() == 3);
  CHECK(cfg.http_port == 8080);
  REQUIRE(cfg.storage_shards.size() == 2);
  CHECK(cfg.storage_shards[1].rfind("mysql://host=db-b.internal", 0) == 0);
  CHECK(cfg.storage_overrides == std::map<workspace_id, size_t>{{workspace_id{1001}, 1}});
  CHECK(cfg.storage_sync == "full");
  CHECK(cfg.redis_port == 6379);
  CHECK(cfg.kafka_brokers.find("kafka-1.internal:9093") == 0);
  CHECK(cfg.kafka_properties.size() == 5);
}
