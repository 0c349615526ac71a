#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#include "runtime/config.hpp"

using parley::parse_config;

TEST_CASE("parleyd defaults to SQLite in ./data on 127.0.0.1:8080", "[runtime][config]") {
  auto cfg = parse_config({});
  CHECK(cfg.http_host == "127.0.0.1");
  CHECK(cfg.http_port == 8080);
  CHECK(cfg.data_dir == "data");
  CHECK(cfg.storage == "sqlite3://db=data/parley.db");
  CHECK(cfg.scheduler_policy == "sharing");
}

TEST_CASE("command-line keys accept --key=value and --key value", "[runtime][config]") {
  auto cfg = parse_config({"--http-port=0", "--data-dir", "/tmp/x", "--idle-timeout-ms=1500",
                           "--rate.user-burst=7"});
  CHECK(cfg.http_port == 0);
  CHECK(cfg.storage == "sqlite3://db=/tmp/x/parley.db");
  CHECK(cfg.limits.idle_timeout == std::chrono::milliseconds(1500));
  CHECK(cfg.limits.user_burst == 7);
}

TEST_CASE("bad configuration is refused with a one-line message", "[runtime][config]") {
  CHECK_THROWS_WITH(parse_config({"--no-such-key=1"}), Catch::Contains("unknown option --no-such-key"));
  CHECK_THROWS_WITH(parse_config({"--http-port=70000"}), Catch::Contains("http-port"));
  CHECK_THROWS_WITH(parse_config({"--http-port=abc"}), Catch::Contains("integer"));
  CHECK_THROWS_WITH(parse_config({"--scheduler.policy=fast"}), Catch::Contains("sharing or stealing"));
  CHECK_THROWS_WITH(parse_config({"--rate.user-per-s=-1"}), Catch::Contains("positive"));
  CHECK_THROWS_WITH(parse_config({"stray"}), Catch::Contains("unexpected argument"));
  CHECK_THROWS_WITH(parse_config({"--data-dir"}), Catch::Contains("needs a value"));
  CHECK_THROWS_WITH(parse_config({"--config=/nonexistent/parley.conf"}), Catch::Contains("cannot open"));
}

TEST_CASE("a config file sets keys and the command line overrides it", "[runtime][config]") {
  char path[] = "/tmp/parley-config-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  {
    std::ofstream out{path};
    out << "# a node\nhttp-port = 9001\nnode = alpha\n\nstorage.sync = full\n";
  }
  auto cfg = parse_config({std::string("--config=") + path, "--http-port=9002"});
  CHECK(cfg.http_port == 9002);
  CHECK(cfg.node_name == "alpha");
  CHECK(cfg.storage_sync == "full");
  {
    std::ofstream out{path};
    out << "just words\n";
  }
  CHECK_THROWS_WITH(parse_config({std::string("--config=") + path}), Catch::Contains(":1: expected key = value"));
  std::remove(path);
}
