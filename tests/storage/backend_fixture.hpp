#pragma once

#include <atomic>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

#include "storage/soci_store.hpp"
#include "tests/storage/sqlite_fixture.hpp"

// Runs one storage test suite against every SQL backend (issue 7): sqlite3 always, PostgreSQL
// and MySQL/MariaDB when their admin connection strings are in the environment:
//   PARLEY_TEST_POSTGRES='postgresql://host=127.0.0.1 port=55432 dbname=postgres user=parley
//   password=parley' PARLEY_TEST_MYSQL='mysql://host=127.0.0.1 port=53306 db=mysql user=parley
//   password=parley'
// (scripts/start-test-databases.sh prints exactly these). Each test case gets a database of
// its own, created through the admin connection and dropped afterwards.

namespace parley::storage::test {

/// One backend under test.
struct test_backend {
  std::string name;             // "sqlite3", "postgresql" or "mysql"
  std::string admin_connection; // empty for sqlite3

  friend std::ostream& operator<<(std::ostream& out, const test_backend& x) {
    return out << x.name;
  }
};

/// sqlite3, then each server backend whose environment variable is set and non-empty.
inline std::vector<test_backend> test_backends() {
  std::vector<test_backend> result{{"sqlite3", ""}};
  for (auto [name, variable] : {std::pair{"postgresql", "PARLEY_TEST_POSTGRES"},
                                std::pair{"mysql", "PARLEY_TEST_MYSQL"}}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0')
      result.push_back({name, value});
  }
  return result;
}

/// Replaces (or adds) the database parameter of a SOCI connection string.
inline std::string with_database(const std::string& connection, const std::string& key,
                                 const std::string& database) {
  auto sep = connection.find("://");
  std::istringstream in{connection.substr(sep + 3)};
  std::string result = connection.substr(0, sep + 3);
  bool replaced = false;
  std::string word;
  while (in >> word) {
    auto eq = word.find('=');
    auto name = word.substr(0, eq);
    if (name == "dbname" || name == "db") {
      word = name + "=" + database;
      replaced = true;
    }
    result += word + " ";
  }
  if (!replaced)
    result += key + "=" + database + " ";
  result.pop_back();
  return result;
}

/// A fresh, empty database on one backend, dropped (or deleted) when the test case ends.
class test_database {
public:
  explicit test_database(test_backend backend) : backend_(std::move(backend)) {
    if (backend_.name == "sqlite3") {
      sqlite_ = std::make_unique<sqlite_fixture>();
      connection_ = sqlite_->connection;
      return;
    }
    static std::atomic<int> counter{0};
    name_ = "parley_t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    std::vector<std::string> statements{"DROP DATABASE IF EXISTS " + name_,
                                        "CREATE DATABASE " + name_};
    if (backend_.name == "postgresql") // no NOTICE on stderr for the absent database
      statements.insert(statements.begin(), "SET client_min_messages = warning");
    auto created = execute_sql(backend_.admin_connection, statements);
    INFO("creating database " << name_ << " on " << backend_.name);
    REQUIRE_FALSE(created);
    connection_ = with_database(backend_.admin_connection,
                                backend_.name == "mysql" ? "db" : "dbname", name_);
  }

  ~test_database() {
    if (name_.empty())
      return;
    // FORCE: a store leaked by a failed test must not keep the database alive.
    auto drop = backend_.name == "postgresql" ? "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)"
                                              : "DROP DATABASE IF EXISTS " + name_;
    auto err = execute_sql(backend_.admin_connection, {drop});
    if (err)
      WARN("cannot drop test database " << name_ << ": " << caf::to_string(err));
  }

  test_database(const test_database&) = delete;
  test_database& operator=(const test_database&) = delete;

  const std::string& backend_name() const { return backend_.name; }

  /// The store's connection string, e.g. for stores opened on other threads.
  const std::string& connection() const { return connection_; }

  std::unique_ptr<soci_store> open(sync_mode mode = sync_mode::normal) {
    auto store = open_soci_store(connection_, mode);
    INFO("opening " << backend_.name << ": " << (store ? "" : caf::to_string(store.error())));
    REQUIRE(store);
    return std::move(*store);
  }

  /// Runs raw SQL on the database through a separate session (to stage faults).
  void exec(const std::string& sql) {
    auto err = execute_sql(connection_, {sql});
    INFO(sql << " -> " << caf::to_string(err));
    REQUIRE_FALSE(err);
  }

  /// Runs a query yielding one integer, such as a COUNT(*).
  long long query(const std::string& sql) {
    auto value = query_integer(connection_, sql);
    INFO(sql << " -> " << (value ? "" : caf::to_string(value.error())));
    REQUIRE(value);
    return *value;
  }

  /// Makes every insert of a message with `seq` fail, through a trigger.
  void fail_inserts_at_seq(uint64_t seq) {
    auto s = std::to_string(seq);
    if (backend_.name == "sqlite3") {
      exec("CREATE TRIGGER fail_seq BEFORE INSERT ON messages WHEN NEW.channel_seq = " + s
           + " BEGIN SELECT RAISE(ABORT, 'injected fault'); END");
    } else if (backend_.name == "postgresql") {
      exec("CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS"
           " $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$");
      exec("CREATE TRIGGER fail_seq BEFORE INSERT ON messages FOR EACH ROW WHEN"
           " (NEW.channel_seq = " + s + ") EXECUTE FUNCTION injected_fault()");
    } else {
      exec("CREATE TRIGGER fail_seq BEFORE INSERT ON messages FOR EACH ROW BEGIN"
           " IF NEW.channel_seq = " + s + " THEN"
           " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected fault'; END IF; END");
    }
  }

  /// Removes the trigger of `fail_inserts_at_seq`.
  void clear_fault() {
    exec(backend_.name == "postgresql" ? "DROP TRIGGER fail_seq ON messages"
                                       : "DROP TRIGGER fail_seq");
  }

private:
  test_backend backend_;
  std::unique_ptr<sqlite_fixture> sqlite_; // sqlite3: a file in a temp dir
  std::string name_;                       // servers: the database created for this test
  std::string connection_;
};

/// Every backend under test, for `GENERATE`.
inline Catch::Generators::GeneratorWrapper<test_backend> each_backend() {
  return Catch::Generators::from_range(test_backends());
}

} // namespace parley::storage::test

/// Declares `var`, a fresh `test_database`; the test case runs once per backend under test,
/// and every failure names the backend.
#define PARLEY_TEST_DATABASE(var)                                                             \
  ::parley::storage::test::test_database var{GENERATE(::parley::storage::test::each_backend())}; \
  INFO("storage backend: " << var.backend_name())
