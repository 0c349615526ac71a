#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "tests/storage/sqlite_fixture.hpp"

using namespace parley;
using namespace parley::storage;
using namespace parley::storage::test;

TEST_CASE("storage errors carry their code, category and context", "[storage]") {
  auto err = make_error(errc::not_found, "no such row");
  CHECK(err.category() == error_category);
  CHECK(err.code() == static_cast<uint8_t>(errc::not_found));
  REQUIRE(err.context().match_elements<std::string>());
  CHECK(err.context().get_as<std::string>(0) == "no such row");
  CHECK(to_string(errc::io_failure) == "io_failure");
  CHECK(to_string(errc::not_found) == "not_found");
  CHECK(to_string(errc::invalid) == "invalid");
}

TEST_CASE("open_soci_store refuses malformed connection strings and unknown backends",
          "[storage][sqlite]") {
  for (auto connection : {"", "db=/tmp/x.db", "://db=/tmp/x.db", "oracle://db=x",
                          "firebird://service=parley password=secret"}) {
    auto store = open_soci_store(connection, sync_mode::normal);
    INFO(connection);
    REQUIRE_FALSE(store);
    CHECK(storage_code(store.error()) == static_cast<uint8_t>(errc::invalid));
    auto context = store.error().context();
    REQUIRE(context.match_elements<std::string>());
    CHECK(context.get_as<std::string>(0).find("secret") == std::string::npos);
  }
}

TEST_CASE("open_soci_store reports an unreachable database as an io failure",
          "[storage][sqlite]") {
  temp_dir dir;
  auto store = open_soci_store("sqlite3://db=" + dir.path() + "/missing/dir/parley.db",
                               sync_mode::normal);
  REQUIRE_FALSE(store);
  CHECK(storage_code(store.error()) == static_cast<uint8_t>(errc::io_failure));
}

TEST_CASE("an unreachable database server is an io failure whose message hides the password",
          "[storage][sql]") {
  // Port 1 on loopback: nothing listens there, the connection is refused at once.
  for (auto connection :
       {"postgresql://host=127.0.0.1 port=1 dbname=parley user=parley password=secret",
        "mysql://host=127.0.0.1 port=1 db=parley user=parley password=secret"}) {
    auto store = open_soci_store(connection, sync_mode::normal);
    INFO(connection);
    REQUIRE_FALSE(store);
    CHECK(storage_code(store.error()) == static_cast<uint8_t>(errc::io_failure));
    auto context = store.error().context();
    REQUIRE(context.match_elements<std::string>());
    CHECK(context.get_as<std::string>(0).find("secret") == std::string::npos);
  }
}

TEST_CASE("a new database file is switched to WAL mode",
          "[storage][sqlite]") {
  sqlite_fixture db;
  auto store = db.open(sync_mode::full);
  sqlite3* raw = nullptr;
  REQUIRE(sqlite3_open(db.file.c_str(), &raw) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  std::string mode = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
  CHECK(mode == "wal"); // WAL is a property of the file, unlike synchronous
}
