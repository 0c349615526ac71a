#ifdef PARLEY_HAVE_REDIS

#include <chrono>
#include <csignal>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/redis_presence_mirror.hpp"

using namespace parley;
using namespace parley::storage;
using namespace std::chrono_literals;

namespace {

/// A free loopback port (bound to 0, read back, released).
uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 10s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred())
      return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

/// A throwaway redis-server on a loopback port, without persistence; killed on destruction.
class redis_process {
public:
  explicit redis_process(uint16_t port = free_port()) : port_(port) { start(); }
  ~redis_process() { kill(); }

  uint16_t port() const { return port_; }

  void start() {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      auto p = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1",
               "--save", "", "--appendonly", "no", "--loglevel", "warning", nullptr);
      ::_exit(127);
    }
    REQUIRE(wait_until([&] { return ping(); }, 10s));
  }

  /// SIGKILL: the server vanishes mid-run, like a crash.
  void kill() {
    if (pid_ <= 0)
      return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  bool ping() {
    auto* c = connect();
    if (c == nullptr)
      return false;
    auto* r = static_cast<redisReply*>(redisCommand(c, "PING"));
    bool ok = r != nullptr && r->type == REDIS_REPLY_STATUS;
    if (r != nullptr)
      freeReplyObject(r);
    redisFree(c);
    return ok;
  }

  redisContext* connect() {
    timeval tv{0, 200000};
    auto* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
    if (c != nullptr && c->err != 0) {
      redisFree(c);
      return nullptr;
    }
    return c;
  }

private:
  uint16_t port_;
  pid_t pid_ = -1;
};

/// A hiredis client of the test (the mirror's view from another service).
class redis_client {
public:
  explicit redis_client(redis_process& server) : ctx_(server.connect()) { REQUIRE(ctx_); }
  ~redis_client() { redisFree(ctx_); }

  std::string get(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(ctx_, "GET %s", key.c_str()));
    REQUIRE(r);
    std::string v = r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
    freeReplyObject(r);
    return v;
  }

  std::set<std::string> members(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(ctx_, "SMEMBERS %s", key.c_str()));
    REQUIRE(r);
    std::set<std::string> out;
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i)
      out.emplace(r->element[i]->str, r->element[i]->len);
    freeReplyObject(r);
    return out;
  }

  long long ttl(const std::string& key) {
    auto* r = static_cast<redisReply*>(redisCommand(ctx_, "TTL %s", key.c_str()));
    REQUIRE(r);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
  }

private:
  redisContext* ctx_;
};

redis_mirror_config fast_config(uint16_t port, std::chrono::seconds ttl = 45s) {
  redis_mirror_config cfg;
  cfg.port = port;
  cfg.node = "node-a";
  cfg.flush = 200ms;
  cfg.ttl = ttl;
  cfg.delta_delay = 10ms;
  cfg.reconnect = 100ms;
  return cfg;
}

const principal u7{workspace_id{1}, user_id{7}};
const principal u8{workspace_id{1}, user_id{8}};
const principal u9{workspace_id{2}, user_id{9}};
const channel_id c3{3};
const channel_id c4{4};

} // namespace

TEST_CASE("the redis mirror writes the documented keys with a TTL and removes them on offline",
          "[storage][redis]") {
  redis_process server;
  redis_client client{server};
  std::atomic<uint64_t> errors{0};
  redis_presence_mirror mirror{fast_config(server.port()), &errors};
  CHECK(redis_gateway_key(u7) == "user:W1:U7:gateway");
  CHECK(redis_online_key(c3) == "channel:C3:online");
  CHECK(redis_member(u7) == "W1:U7");

  mirror.online(u7, {c3, c4});
  mirror.online(u8, {c3});
  REQUIRE(wait_until([&] { return client.members("channel:C3:online").size() == 2; }));
  CHECK(client.get("user:W1:U7:gateway") == "node-a");
  CHECK(client.get("user:W1:U8:gateway") == "node-a");
  CHECK(client.members("channel:C3:online") == std::set<std::string>{"W1:U7", "W1:U8"});
  CHECK(client.members("channel:C4:online") == std::set<std::string>{"W1:U7"});
  for (auto key : {"user:W1:U7:gateway", "channel:C3:online", "channel:C4:online"}) {
    auto ttl = client.ttl(key);
    CHECK(ttl > 0);
    CHECK(ttl <= 45);
  }

  SECTION("leaving a channel removes the user from its set") {
    mirror.online(u7, {c3});
    REQUIRE(wait_until([&] { return client.members("channel:C4:online").empty(); }));
    CHECK(client.members("channel:C3:online").count("W1:U7") == 1);
  }
  SECTION("going offline deletes the gateway key and removes the member") {
    mirror.offline(u7);
    REQUIRE(wait_until([&] { return client.get("user:W1:U7:gateway").empty(); }));
    REQUIRE(wait_until([&] { return client.members("channel:C4:online").empty(); }));
    CHECK(client.members("channel:C3:online") == std::set<std::string>{"W1:U8"});
    CHECK(client.get("user:W1:U8:gateway") == "node-a");
  }
  SECTION("offline leaves a gateway key that another node took over") {
    REQUIRE(wait_until([&] { return mirror.batches_written() > 0; }));
    auto* other = server.connect(); // another node's connection
    REQUIRE(other);
    freeReplyObject(redisCommand(other, "SET user:W1:U7:gateway node-b"));
    redisFree(other);
    mirror.offline(u7);
    auto before = mirror.batches_written();
    REQUIRE(wait_until([&] { return mirror.batches_written() > before + 1; }));
    CHECK(client.get("user:W1:U7:gateway") == "node-b");
  }
  CHECK(errors == 0);
}

TEST_CASE("redis mirror keys expire once the node stops refreshing them", "[storage][redis]") {
  redis_process server;
  redis_client client{server};
  {
    redis_presence_mirror mirror{fast_config(server.port(), 1s), nullptr};
    mirror.online(u7, {c3});
    REQUIRE(wait_until([&] { return client.get("user:W1:U7:gateway") == "node-a"; }));
    // Refreshed while the mirror runs: still there after more than one TTL.
    std::this_thread::sleep_for(1500ms);
    CHECK(client.get("user:W1:U7:gateway") == "node-a");
    CHECK(client.members("channel:C3:online").count("W1:U7") == 1);
  } // the node "crashes": no more refreshes, no DEL
  REQUIRE(wait_until([&] { return client.get("user:W1:U7:gateway").empty(); }, 3s));
  REQUIRE(wait_until([&] { return client.members("channel:C3:online").empty(); }, 3s));
}

TEST_CASE("redis going down never blocks the mirror's callers, errors are counted and the "
          "state is restored after a restart",
          "[storage][redis]") {
  auto server = std::make_unique<redis_process>();
  auto port = server->port();
  std::atomic<uint64_t> errors{0};
  redis_presence_mirror mirror{fast_config(port), &errors};
  mirror.online(u7, {c3});
  mirror.online(u8, {c3, c4});
  {
    redis_client client{*server};
    REQUIRE(wait_until([&] { return client.members("channel:C3:online").size() == 2; }));
  }
  CHECK(errors == 0);

  server->kill();
  // Callers only queue: thousands of deltas while Redis is gone take no time.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5000; ++i) {
    mirror.online(principal{workspace_id{3}, user_id{static_cast<uint64_t>(1000 + i % 50)}},
                  {channel_id{10}});
  }
  mirror.offline(u8);
  mirror.online(u9, {c4});
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took < 500ms);
  REQUIRE(wait_until([&] { return errors >= 2; }));
  CHECK(mirror.errors() == errors);
  CHECK_FALSE(mirror.connected());

  // A fresh, empty Redis on the same port: the mirror resynchronises everything.
  server = std::make_unique<redis_process>(port);
  redis_client client{*server};
  REQUIRE(wait_until([&] { return client.members("channel:C10:online").size() == 50; }));
  REQUIRE(wait_until([&] { return client.get("user:W2:U9:gateway") == "node-a"; }));
  CHECK(client.get("user:W1:U7:gateway") == "node-a");
  CHECK(client.get("user:W1:U8:gateway").empty());
  CHECK(client.members("channel:C3:online") == std::set<std::string>{"W1:U7"});
  CHECK(client.members("channel:C4:online") == std::set<std::string>{"W2:U9"});
  CHECK(client.ttl("channel:C10:online") > 0);
  CHECK(mirror.connected());
}

#endif // PARLEY_HAVE_REDIS
