#pragma once

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include "protocol/message.hpp"
#include "storage/errors.hpp"
#include "storage/soci_store.hpp"

namespace parley::storage::test {

/// A fresh directory per test case, removed with everything in it afterwards.
class temp_dir {
public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp")
                          + "/parley-storage-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      FAIL("mkdtemp failed for " << pattern);
    path_ = buf.data();
  }

  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// A SQLite database file in its own temp dir, opened as many times as a test needs.
struct sqlite_fixture {
  temp_dir dir;
  std::string file = dir.path() + "/parley.db";
  std::string connection = "sqlite3://db=" + file;

  std::unique_ptr<soci_store> open(sync_mode mode = sync_mode::normal) {
    auto store = open_soci_store(connection, mode);
    REQUIRE(store);
    return std::move(*store);
  }

  /// Runs raw SQL on the file through a separate SQLite connection (to stage faults).
  void exec_raw(const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    INFO(message);
    REQUIRE(rc == SQLITE_OK);
  }
};

/// A message with the fields tests care about; ts derives from seq so it is non-decreasing.
inline chat_message msg(uint64_t workspace, uint64_t channel, uint64_t seq, uint64_t user,
                        std::string client_msg_id, std::string text = "") {
  chat_message m;
  m.workspace = workspace_id{workspace};
  m.channel = channel_id{channel};
  m.seq = seq;
  m.user = user_id{user};
  m.client_msg_id = std::move(client_msg_id);
  m.text = text.empty() ? "text of " + m.channel.str() + "#" + std::to_string(seq) : text;
  m.ts = 1'700'000'000'000'000 + static_cast<int64_t>(seq);
  return m;
}

inline bool same_row(const chat_message& a, const chat_message& b) {
  return a.workspace == b.workspace && a.channel == b.channel && a.seq == b.seq
         && a.user == b.user && a.client_msg_id == b.client_msg_id && a.text == b.text
         && a.ts == b.ts;
}

/// The storage error code carried by `err`, or 0 when it is not a storage error.
inline uint8_t storage_code(const caf::error& err) {
  return err.category() == error_category ? err.code() : 0;
}

} // namespace parley::storage::test
