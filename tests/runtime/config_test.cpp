#include <catch2/catch.hpp>

#include "tests/support/help_text.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "runtime/config.hpp"
#include "actors/log.hpp"

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
  CHECK_THROWS_WITH(parse_config({"--no-such-key=1"}),
                    Catch::Contains("unknown option --no-such-key"));
  CHECK_THROWS_WITH(parse_config({"--http-port=70000"}), Catch::Contains("http-port"));
  CHECK_THROWS_WITH(parse_config({"--http-port=abc"}), Catch::Contains("integer"));
  CHECK_THROWS_WITH(parse_config({"--scheduler.policy=fast"}),
                    Catch::Contains("sharing or stealing"));
  CHECK_THROWS_WITH(parse_config({"--rate.user-per-s=-1"}), Catch::Contains("positive"));
  CHECK_THROWS_WITH(parse_config({"stray"}), Catch::Contains("unexpected argument"));
  CHECK_THROWS_WITH(parse_config({"--data-dir"}), Catch::Contains("needs a value"));
  CHECK_THROWS_WITH(parse_config({"--config=/nonexistent/parley.conf"}),
                    Catch::Contains("cannot open"));
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
  CHECK_THROWS_WITH(parse_config({std::string("--config=") + path}),
                    Catch::Contains(":1: expected key = value"));
  std::remove(path);
}

/// Every key parse_config takes; a key missing from --help, or one --help shows that is missing
/// here, fails the test below.
const std::vector<std::string> all_keys = {
  "config", "node", "scheduler.threads", "scheduler.policy", "io-threads", "jwt-secret-file",
  "admin-token-file", "dev-login", "http-host", "http-port", "web-dir", "max-connections",
  "outbound-queue", "http.header-timeout-ms", "hello-timeout-ms", "idle-timeout-ms",
  "write-timeout-ms", "data-dir",
  "storage", "storage.sync", "storage.readers", "storage.shard.*", "storage.shard-override.*",
  "node.*", "channel-idle-ms", "rate.user-per-s", "rate.user-burst", "rate.workspace-per-s",
  "rate.workspace-burst", "fanout.large-channel", "fanout.overload-backlog", "fanout.overload-delay-ms",
  "fanout.overload-backed-up-sockets",
  "fanout.overload-cursor-members", "fanout.internode-deadline-ms", "fanout.peer-dead-ms",
  "fanout.circuit-failures",
  "fanout.circuit-probe-ms", "presence.coalesce-members", "presence.push-max-members",
  "presence.subscribe-max", "redis", "redis.flush-ms", "redis.ttl-s", "redis.timeout-ms", "kafka.brokers", "kafka.topic",
  "kafka.presence-topic", "kafka.property", "tls.cert", "tls.key", "cluster.tls-cert",
  "cluster.tls-key", "cluster.tls-cafile", "log-level"};

TEST_CASE("fanout.overload-backed-up-sockets sets the full-socket threshold, 0 turns it off",
          "[runtime][config][overload]") {
  CHECK(parse_config({}).limits.overload_backed_up_sockets == 256);
  CHECK(parse_config({"--fanout.overload-backed-up-sockets=1000"})
          .limits.overload_backed_up_sockets == 1000);
  CHECK(parse_config({"--fanout.overload-backed-up-sockets", "0"})
          .limits.overload_backed_up_sockets == 0);
  CHECK_THROWS_WITH(parse_config({"--fanout.overload-backed-up-sockets=-1"}),
                    "--fanout.overload-backed-up-sockets needs a non-negative integer, got '-1'");
  CHECK_THROWS_WITH(parse_config({"--fanout.overload-backed-up-sockets=many"}),
                    "--fanout.overload-backed-up-sockets needs a non-negative integer, got "
                    "'many'");
}

TEST_CASE("write-timeout-ms sets how long a write may wait for the client, 0 turns it off",
          "[runtime][config]") {
  CHECK(parse_config({}).write_timeout == std::chrono::milliseconds(30000));
  CHECK(parse_config({"--write-timeout-ms=1500"}).write_timeout
        == std::chrono::milliseconds(1500));
  CHECK(parse_config({"--write-timeout-ms", "0"}).write_timeout.count() == 0);
  CHECK_THROWS_WITH(parse_config({"--write-timeout-ms=-1"}),
                    "--write-timeout-ms needs a non-negative integer, got '-1'");
  CHECK_THROWS_WITH(parse_config({"--write-timeout-ms=5s"}),
                    "--write-timeout-ms needs a non-negative integer, got '5s'");
  CHECK_THROWS_WITH(parse_config({"--write-timeout-ms=86400001"}),
                    "--write-timeout-ms must be 0 ... 86400000");
}

TEST_CASE("parleyd --help lists every key with a one-line description", "[runtime][config]") {
  auto text = parley::usage();
  for (auto& key : all_keys) {
    INFO(key);
    CHECK(text.find("\n  --" + key + " ") != std::string::npos);
  }
  // Each key's line holds its value name and, after a gap, its description.
  auto listed = parley::test::described_options(text);
  CHECK(listed == all_keys.size());
  for (auto group : {"Listener:", "Storage:", "Cluster:", "Limits:", "Fan-out:", "Presence:",
                     "Redis presence mirror:", "Kafka export:", "TLS (PEM files):", "Logging:"})
    CHECK(text.find(group) != std::string::npos);
  CHECK(text.find("--log-level LEVEL") != std::string::npos);
  CHECK(text.find("normal: acks survive kill -9") != std::string::npos);
}

TEST_CASE("--log-level takes the levels of actors/log.hpp and nothing else",
          "[runtime][config]") {
  for (std::string level : {"error", "warn", "warning", "info", "debug"}) {
    INFO(level);
    CHECK(parse_config({"--log-level=" + level}).log_level == level);
    CHECK(parley::set_log_level(level)); // the node applies it at start
  }
  parley::set_log_level("info");
  CHECK(parse_config({}).log_level == "info");
  CHECK_THROWS_WITH(parse_config({"--log-level=verbose"}),
                    "--log-level must be one of error, warn, info, debug, got 'verbose'");
  CHECK_THROWS_WITH(parse_config({"--log-level", "INFO"}),
                    Catch::StartsWith("--log-level must be one of error, warn, info, debug"));
}

/// A config file holding `text`, removed when the test ends.
struct temp_config {
  std::string path;
  explicit temp_config(const std::string& text) {
    char templ[] = "/tmp/parley-config-XXXXXX";
    int fd = mkstemp(templ);
    REQUIRE(fd >= 0);
    close(fd);
    path = templ;
    std::ofstream{path} << text;
  }
  ~temp_config() { std::remove(path.c_str()); }
};

TEST_CASE("an unknown key is refused on the command line and in a file", "[runtime][config]") {
  CHECK_THROWS_WITH(parse_config({"--no-such-key", "1"}),
                    "unknown option --no-such-key (see --help)");
  // No abbreviations: --data is not --data-dir.
  CHECK_THROWS_WITH(parse_config({"--data=/tmp/x"}), "unknown option --data (see --help)");
  CHECK_THROWS_WITH(parse_config({"--storage.shards.0=sqlite3://db=a"}),
                    Catch::StartsWith("unknown option --storage.shards.0"));
  CHECK_THROWS_WITH(parse_config({"-v"}), Catch::StartsWith("unknown option -v"));
  temp_config file{"http-port = 1\nhttp-prot = 2\n"};
  CHECK_THROWS_WITH(parse_config({"--config", file.path}),
                    "unknown option --http-prot (see --help)");
  temp_config nested{"config = /etc/parley.conf\n"};
  CHECK_THROWS_WITH(parse_config({"--config", nested.path}), Catch::Contains("--config"));
}

TEST_CASE("a bad value is refused with one line naming its key", "[runtime][config]") {
  const std::vector<std::pair<std::string, std::string>> bad = {
    {"--storage.readers=many", "--storage.readers needs a non-negative integer, got 'many'"},
    {"--hello-timeout-ms=-5", "--hello-timeout-ms needs a non-negative integer, got '-5'"},
    {"--rate.workspace-burst=0", "--rate.workspace-burst needs a positive number, got '0'"},
    {"--dev-login=yes", "--dev-login must be true or false"},
    {"--storage.sync=sometimes", "--storage.sync must be normal or full"},
    {"--redis=localhost", "--redis must be host:port, got 'localhost'"},
    {"--redis=localhost:0", "--redis port must be 1 ... 65535"},
    {"--kafka.topic=", "--kafka.topic must not be empty"},
    {"--kafka.property=acks", "--kafka.property must be key=value, got 'acks'"},
    {"--node.n1=127.0.0.1:0:80", "node.n1 must be host:basp_port:http_port, got '127.0.0.1:0:80'"},
    {"--fanout.circuit-failures=2000000", "--fanout.circuit-failures must be 1 ... 1000000"},
    {"--jwt-secret-file=/nonexistent", "cannot read a secret from --jwt-secret-file /nonexistent"},
    {"--http-port", "option --http-port needs a value"},
  };
  for (auto& [arg, message] : bad) {
    INFO(arg);
    CHECK_THROWS_AS(parse_config({arg}), std::invalid_argument);
    CHECK_THROWS_WITH(parse_config({arg}), message);
  }
  temp_config file{"fanout.large-channel = lots\n"};
  CHECK_THROWS_WITH(parse_config({"--config=" + file.path}),
                    Catch::StartsWith("--fanout.large-channel needs a non-negative integer"));
}

TEST_CASE("keys keep their syntax: empty values, last one wins, '#' inside a value",
          "[runtime][config]") {
  CHECK(parse_config({"--storage=", "--data-dir=/tmp/d"}).storage
        == "sqlite3://db=/tmp/d/parley.db");
  CHECK(parse_config({"--http-port=1", "--http-port", "2"}).http_port == 2);
  CHECK(parse_config({"--storage.shard.0", "sqlite3://db=a"}).storage_shards
        == std::vector<std::string>{"sqlite3://db=a"});
  temp_config file{"# comment\n  storage = mysql://db=p password=a#b  \n"
                   "kafka.property = acks=all\nlog-level = debug\nlog-level = error\n"};
  auto cfg = parse_config({"--kafka.property=linger.ms=5", "--config", file.path});
  CHECK(cfg.storage == "mysql://db=p password=a#b");
  CHECK(cfg.log_level == "error");
  // The file's keys come first, then the command line's.
  using kv = std::pair<std::string, std::string>;
  CHECK(cfg.kafka_properties == std::vector<kv>{{"acks", "all"}, {"linger.ms", "5"}});
}
