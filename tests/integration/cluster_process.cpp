#include "tests/integration/cluster_process.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <spawn.h>
#include <sstream>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

extern char** environ;

namespace parley::test {

using namespace std::chrono_literals;

namespace {

std::string make_cluster_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-cluster-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data()))
    FAIL("mkdtemp failed: " << std::strerror(errno));
  return buf.data();
}

/// Runs `psql` with one SQL statement on a libpq conninfo; returns "" or what went wrong.
/// (The integration binary links only the client library, so the admin connection goes
/// through Debian's psql rather than storage/soci_store.)
std::string run_psql(const std::string& conninfo, const std::string& sql,
                     const std::string& log_file) {
  std::vector<std::string> args = {"psql", "-X",     "-q", "-v", "ON_ERROR_STOP=1",
                                   "-d",   conninfo, "-c", sql};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    env.push_back(*e);
  env.push_back("PGCONNECT_TIMEOUT=10");
  env.push_back("PGOPTIONS=-c client_min_messages=warning");
  std::vector<char*> envp;
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "psql", &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0)
    return std::string("cannot run psql: ") + std::strerror(rc);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return {};
  std::ifstream in{log_file};
  std::stringstream out;
  out << in.rdbuf();
  return "psql '" + sql + "' failed: " + out.str();
}

} // namespace

std::vector<uint16_t> free_ports(size_t n) {
  std::vector<int> fds;
  std::vector<uint16_t> ports;
  for (size_t i = 0; i < n; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  // All bound at once, so the ports are distinct; closed so the nodes can bind them.
  for (int fd : fds)
    ::close(fd);
  return ports;
}

cluster_process::cluster_process(std::vector<std::string> extra_args, size_t nodes)
    : dir_(make_cluster_dir()) {
  try {
    const char* pg = std::getenv("PARLEY_TEST_POSTGRES");
    if (pg != nullptr && *pg != '\0') {
      std::string admin = pg;
      const std::string scheme = "postgresql://";
      REQUIRE(admin.rfind(scheme, 0) == 0);
      admin_connection_ = admin.substr(scheme.size());
      static std::atomic<int> counter{0};
      auto db = "parley_cluster_" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
      auto log = dir_ + "/psql.log";
      auto err = run_psql(admin_connection_, "DROP DATABASE IF EXISTS " + db, log);
      if (err.empty())
        err = run_psql(admin_connection_, "CREATE DATABASE " + db, log);
      INFO("creating database " << db << " on " << admin_connection_);
      if (!err.empty())
        FAIL(err);
      database_ = db;
      // The admin conninfo with dbname replaced.
      std::istringstream words{admin_connection_};
      std::string word, conninfo;
      bool replaced = false;
      while (words >> word) {
        if (word.rfind("dbname=", 0) == 0) {
          word = "dbname=" + db;
          replaced = true;
        }
        conninfo += word + " ";
      }
      if (!replaced)
        conninfo += "dbname=" + db + " ";
      conninfo.pop_back();
      storage_ = scheme + conninfo;
    } else {
      WARN("PARLEY_TEST_POSTGRES is not set: the cluster shares a SQLite file instead of "
           "PostgreSQL (run eval \"$(scripts/start-test-databases.sh)\"; CI sets it)");
      storage_ = "sqlite3://db=" + dir_ + "/parley.db";
    }

    auto ports = free_ports(nodes * 2);
    config_file_ = dir_ + "/cluster";
    {
      std::ofstream out{config_file_};
      out << "# written by tests/integration/cluster_process.cpp\n";
      for (size_t i = 0; i < nodes; ++i)
        out << "node." << name(i) << " = 127.0.0.1:" << ports[2 * i] << ":" << ports[2 * i + 1]
            << "\n";
      out << "storage = " << storage_ << "\n";
      REQUIRE(out.good());
    }
    for (size_t i = 0; i < nodes; ++i)
      nodes_.push_back(std::make_unique<node_process>(config_file_, name(i),
                                                      dir_ + "/" + name(i), extra_args));
    std::vector<size_t> all;
    for (size_t i = 0; i < nodes; ++i)
      all.push_back(i);
    require_live(all, all, std::vector<uint64_t>(nodes, 0));
  } catch (...) {
    nodes_.clear();
    if (!database_.empty())
      run_psql(admin_connection_, "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)",
               dir_ + "/psql.log");
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw;
  }
}

cluster_process::~cluster_process() {
  // Stops every node (SIGTERM, then SIGKILL) before the database goes.
  nodes_.clear();
  if (!database_.empty()) {
    // FORCE: a node that did not exit must not keep the database alive.
    auto err = run_psql(admin_connection_,
                        "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)",
                        dir_ + "/psql.log");
    if (!err.empty())
      WARN("cannot drop test database " << database_ << ": " << err);
  }
  if (!std::getenv("PARLEY_KEEP_TEST_DIRS")) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::vector<uint64_t> cluster_process::marks() const {
  std::vector<uint64_t> out;
  for (auto& n : nodes_)
    out.push_back(n->line_count());
  return out;
}

void cluster_process::require_live(const std::vector<size_t>& which,
                                   const std::vector<size_t>& live,
                                   const std::vector<uint64_t>& marks,
                                   std::chrono::milliseconds timeout) const {
  std::string names;
  for (auto i : live)
    names += (names.empty() ? "" : ",") + name(i);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto i : which) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    bool seen = node(i).wait_for_line("cluster live nodes: " + names,
                                      std::max(left, std::chrono::milliseconds(1)),
                                      marks.at(i), true);
    if (!seen)
      FAIL(name(i) << " did not print 'cluster live nodes: " << names << "' within "
                   << timeout.count() << " ms; its output:\n"
                   << node(i).log_tail());
  }
}

std::map<std::string, double> cluster_process::metrics(size_t i) const {
  auto res = node(i).http("GET", "/metrics");
  INFO("GET /metrics on " << name(i) << " -> " << res.status);
  REQUIRE(res.status == 200);
  std::map<std::string, double> out;
  std::istringstream in{res.body};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto sp = line.rfind(' ');
    if (sp == std::string::npos || line.find('{') < sp)
      continue;
    try {
      out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    } catch (...) {
    }
  }
  return out;
}

uint64_t cluster_process::metric(size_t i, const std::string& name_) const {
  auto all = metrics(i);
  auto it = all.find(name_);
  INFO("metric " << name_ << " on " << name(i));
  REQUIRE(it != all.end());
  return static_cast<uint64_t>(it->second);
}

} // namespace parley::test
