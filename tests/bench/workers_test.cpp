#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "tools/bench/plan.hpp"
#include "tools/bench/workers.hpp"

using namespace parley::bench;

namespace {

options fanout_options(size_t members, size_t per_worker, std::string target = "parley",
                       size_t nodes = 1) {
  options o;
  o.mode = "fanout";
  o.members = members;
  o.per_worker = per_worker;
  o.target = std::move(target);
  o.nodes.resize(nodes);
  return o;
}

} // namespace

TEST_CASE("records survive being split at every byte boundary", "[bench][workers]") {
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(write_record(fds[1], record::progress, R"({"ready":3})"));
  REQUIRE(write_record(fds[1], record::done, std::string("\0\1\2", 3)));
  REQUIRE(write_record(fds[1], record::quit, ""));
  ::close(fds[1]);
  std::string bytes;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
    bytes.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    record_reader r;
    std::vector<pipe_record> got;
    r.feed(bytes.data(), cut);
    while (auto x = r.next())
      got.push_back(*x);
    r.feed(bytes.data() + cut, bytes.size() - cut);
    while (auto x = r.next())
      got.push_back(*x);
    REQUIRE(got.size() == 3);
    CHECK(got[0].type == record::progress);
    CHECK(got[0].body == R"({"ready":3})");
    CHECK(got[1].body == std::string("\0\1\2", 3));
    CHECK(got[2].type == record::quit);
  }
}

TEST_CASE("slices cover the clients after the publishers without overlap", "[bench][workers]") {
  auto s = split(1, 50000, 4);
  REQUIRE(s.size() == 4);
  size_t next = 1;
  for (auto& x : s) {
    CHECK(x.first == next);
    CHECK(x.count >= 12499);
    CHECK(x.count <= 12500);
    next += x.count;
  }
  CHECK(next == 50000);
}

TEST_CASE("runs above the per-process cap are split into workers", "[bench][workers]") {
  // 2,000 members forced into workers of 1,000: the parent keeps the publisher.
  auto p = plan_processes(fanout_options(2000, 1000), 20000);
  CHECK(p.workers == 2);
  CHECK(p.publishers == 1);
  // 20,000 connections to one process exceed the fd limit even with a larger --per-worker.
  p = plan_processes(fanout_options(20000, 50000), 20000);
  CHECK(p.workers == 2);
  CHECK(p.per_process < 20000);
  // The 50K scenario with defaults: 4 workers.
  CHECK(plan_processes(fanout_options(50000, 16000), 20000).workers == 4);
  // Small runs stay in one process; peers publish once per process.
  p = plan_processes(fanout_options(300, 16000, "ws", 3), 20000);
  CHECK(p.workers == 0);
  CHECK(p.publishers == 3);
}

TEST_CASE("throughput is split into workers that hold whole channels", "[bench][workers]") {
  options t;
  t.mode = "throughput";
  t.channels = 10000;
  t.members = 5;
  t.per_worker = 16000;
  // The standard 50K scenario: 3,200 channels (16,000 clients) per worker.
  auto p = plan_processes(t, 20000);
  CHECK(p.error.empty());
  CHECK(p.workers == 4);
  CHECK(split(0, t.channels, p.workers).back().count * t.members <= p.per_process);
  // A per-worker cap that is not a multiple of the channel size rounds down to whole channels.
  t.channels = 9;
  t.members = 4;
  t.per_worker = 14;
  CHECK(plan_processes(t, 20000).workers == 3);
  // Small runs stay in one process.
  t.per_worker = 16000;
  CHECK(plan_processes(t, 20000).workers == 0);
  // A channel larger than one process can hold cannot be split.
  t.channels = 2;
  t.members = 30000;
  CHECK_FALSE(plan_processes(t, 20000).error.empty());
}

TEST_CASE("forked workers report over pipes and exit when the parent closes them",
          "[bench][workers]") {
  worker_pool pool(split(0, 30, 3), [](size_t i, slice s, worker_pipes p) {
    auto start = read_record(p.cmd_fd);
    if (!start || start->type != record::start)
      return 3;
    write_record(p.report_fd, record::connected,
                 nlohmann::json{{"ready", s.count}, {"worker", i}, {"echo", start->body}}.dump());
    // Stay until the parent closes the command pipe (EOF), as a real worker does.
    while (read_record(p.cmd_fd)) {
    }
    return 0;
  });
  REQUIRE(pool.size() == 3);
  boost::asio::io_context io(1);
  pool.attach(io);
  pool.broadcast(record::start, "hi");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pool.all_connected() && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(100));
  REQUIRE(pool.all_connected());
  size_t total = 0;
  for (auto& c : pool.connected_reports()) {
    total += c["ready"].get<size_t>();
    CHECK(c["echo"] == "hi");
  }
  CHECK(total == 30);
  CHECK(pool.lost() == 0);
  pool.detach();
  pool.reap(std::chrono::seconds(10));
}
