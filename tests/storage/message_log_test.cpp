#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/storage/backend_fixture.hpp"

using namespace parley;
using namespace parley::storage;
using namespace parley::storage::test;

namespace {

std::vector<append_status> statuses(const std::vector<append_outcome>& outcomes) {
  std::vector<append_status> result;
  for (auto& o : outcomes)
    result.push_back(o.status);
  return result;
}

const workspace_id w1{1};
const workspace_id w2{2};
const channel_id c1{1};
const channel_id c2{2};
const user_id u7{7};

} // namespace

TEST_CASE("opening a store twice on one database keeps the schema and its rows",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  {
    auto store = db.open();
    REQUIRE(store->append({msg(1, 1, 1, 7, "a")}));
  }
  auto first = db.open();
  auto second = db.open(); // schema creation again, while another store is open
  auto latest = second->latest_seq(w1, c1);
  REQUIRE(latest);
  CHECK(*latest == 1);
}

TEST_CASE("append stores every row of a batch and latest_seq follows the highest seq",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto empty = store->latest_seq(w1, c1);
  REQUIRE(empty);
  CHECK(*empty == 0);
  std::vector<chat_message> batch{msg(1, 1, 1, 7, "a"), msg(1, 1, 2, 8, "b"),
                                  msg(1, 2, 1, 7, "c"), msg(1, 1, 3, 7, "d")};
  auto outcomes = store->append(batch);
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes) == std::vector<append_status>(4, append_status::stored));
  CHECK(*store->latest_seq(w1, c1) == 3);
  CHECK(*store->latest_seq(w1, c2) == 1);
  auto rows = store->read_after(w1, c1, 0, 100);
  REQUIRE(rows);
  REQUIRE(rows->size() == 3);
  CHECK(same_row((*rows)[0], batch[0]));
  CHECK(same_row((*rows)[1], batch[1]));
  CHECK(same_row((*rows)[2], batch[3]));
}

TEST_CASE("an empty batch appends nothing and succeeds", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto outcomes = store->append({});
  REQUIRE(outcomes);
  CHECK(outcomes->empty());
}

TEST_CASE("a retried client_msg_id returns the original row, even from another channel",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto original = msg(1, 1, 1, 7, "retry-me", "first text");
  REQUIRE(store->append({original}));
  // The retry carries a new seq, channel and text: the key is (workspace, user, client_msg_id).
  auto outcomes = store->append({msg(1, 1, 2, 7, "retry-me", "other text"),
                                 msg(1, 2, 1, 7, "retry-me", "third text")});
  REQUIRE(outcomes);
  REQUIRE(outcomes->size() == 2);
  for (auto& outcome : *outcomes) {
    CHECK(outcome.status == append_status::duplicate);
    CHECK(same_row(outcome.original, original));
  }
  CHECK(*store->latest_seq(w1, c1) == 1);
  CHECK(*store->latest_seq(w1, c2) == 0);
  auto found = store->find_sent(w1, u7, "retry-me");
  REQUIRE(found);
  REQUIRE(found->has_value());
  CHECK(same_row(**found, original));
}

TEST_CASE("a duplicate within one batch is reported against the earlier row of the batch",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto outcomes = store->append(
    {msg(1, 1, 1, 7, "x"), msg(1, 1, 2, 7, "x"), msg(1, 1, 3, 8, "x"), msg(1, 1, 4, 7, "y")});
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes)
        == std::vector<append_status>{append_status::stored, append_status::duplicate,
                                      append_status::stored, append_status::stored});
  CHECK((*outcomes)[1].original.seq == 1);
  CHECK(same_row((*outcomes)[1].original, msg(1, 1, 1, 7, "x")));
}

TEST_CASE("the same client_msg_id from different users is not a duplicate",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto outcomes = store->append({msg(1, 1, 1, 7, "same"), msg(1, 1, 2, 8, "same")});
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes) == std::vector<append_status>(2, append_status::stored));
}

TEST_CASE("messages without a client_msg_id are never deduplicated", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto outcomes = store->append({msg(1, 1, 1, 7, ""), msg(1, 1, 2, 7, "")});
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes) == std::vector<append_status>(2, append_status::stored));
  auto found = store->find_sent(w1, u7, "");
  REQUIRE(found);
  CHECK_FALSE(found->has_value());
  auto rows = store->read_after(w1, c1, 0, 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].client_msg_id.empty());
}

TEST_CASE("a second writer appending an existing seq is fenced with seq_taken",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto owner = db.open();
  auto stale = db.open();
  REQUIRE(owner->append({msg(1, 1, 1, 7, "a"), msg(1, 1, 2, 7, "b"), msg(1, 1, 3, 7, "c")}));
  auto outcomes = stale->append({msg(1, 1, 3, 8, "stale"), msg(1, 1, 4, 8, "next")});
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes)
        == std::vector<append_status>{append_status::seq_taken, append_status::stored});
  auto rows = owner->read_after(w1, c1, 2, 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].client_msg_id == "c"); // the first writer's row is untouched
  CHECK((*rows)[1].client_msg_id == "next");
  auto fenced = owner->find_sent(w1, user_id{8}, "stale");
  REQUIRE(fenced);
  CHECK_FALSE(fenced->has_value());
}

TEST_CASE("messages appended before a close are read back after reopening",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  std::vector<chat_message> batch;
  for (uint64_t seq = 1; seq <= 10; ++seq)
    batch.push_back(msg(1, 1, seq, 7, "m" + std::to_string(seq)));
  {
    auto store = db.open(sync_mode::full);
    auto outcomes = store->append(batch);
    REQUIRE(outcomes);
  }
  auto store = db.open(sync_mode::full);
  CHECK(*store->latest_seq(w1, c1) == 10);
  auto rows = store->read_after(w1, c1, 0, 100);
  REQUIRE(rows);
  REQUIRE(rows->size() == batch.size());
  for (size_t i = 0; i < batch.size(); ++i)
    CHECK(same_row((*rows)[i], batch[i]));
  auto retry = store->append({msg(1, 1, 11, 7, "m4")});
  REQUIRE(retry);
  CHECK((*retry)[0].status == append_status::duplicate);
  CHECK((*retry)[0].original.seq == 4);
}

TEST_CASE("read_after pages through 250 messages as 100, 100 and 50", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  std::vector<chat_message> batch;
  for (uint64_t seq = 1; seq <= 250; ++seq)
    batch.push_back(msg(1, 1, seq, 7, "p" + std::to_string(seq)));
  REQUIRE(store->append(batch));
  uint64_t after = 0;
  std::vector<size_t> pages;
  for (;;) {
    auto page = store->read_after(w1, c1, after, 100);
    REQUIRE(page);
    if (page->empty())
      break;
    pages.push_back(page->size());
    for (auto& m : *page)
      CHECK(m.seq == ++after); // ascending, contiguous, starting right after the cursor
  }
  CHECK(pages == std::vector<size_t>{100, 100, 50});
  CHECK(after == 250);
  auto none = store->read_after(w1, c1, 0, 0);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("read_after skips gaps left by seqs that were never stored", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  REQUIRE(store->append({msg(1, 1, 1, 7, "a"), msg(1, 1, 2, 7, "b"), msg(1, 1, 5, 7, "e")}));
  auto rows = store->read_after(w1, c1, 1, 2);
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  CHECK((*rows)[0].seq == 2);
  CHECK((*rows)[1].seq == 5);
}

TEST_CASE("workspaces with the same channel and user numbers do not collide",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto outcomes = store->append({msg(1, 1, 1, 7, "same", "in W1"), msg(2, 1, 1, 7, "same", "in W2"),
                                 msg(2, 1, 2, 7, "more", "in W2 again")});
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes) == std::vector<append_status>(3, append_status::stored));
  CHECK(*store->latest_seq(w1, c1) == 1);
  CHECK(*store->latest_seq(w2, c1) == 2);
  auto in_w1 = store->read_after(w1, c1, 0, 10);
  REQUIRE(in_w1);
  REQUIRE(in_w1->size() == 1);
  CHECK((*in_w1)[0].text == "in W1");
  auto sent_w2 = store->find_sent(w2, u7, "same");
  REQUIRE(sent_w2);
  REQUIRE(sent_w2->has_value());
  CHECK((*sent_w2)->text == "in W2");
  auto missing = store->find_sent(workspace_id{3}, u7, "same");
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
}

// The dedup lookup is one statement prepared per store and re-executed (storage/soci_store.cpp):
// each lookup must answer for its own key, whatever the previous one found.
TEST_CASE("find_sent on one store answers every lookup for its own key, hits and misses mixed",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  std::vector<chat_message> rows{msg(1, 1, 1, 7, "a", "A by 7"), msg(1, 1, 2, 7, "b", "B by 7"),
                                 msg(1, 2, 1, 8, "a", "A by 8"), msg(2, 1, 1, 7, "a", "A in W2")};
  REQUIRE(store->append(rows));
  struct lookup {
    uint64_t workspace, user;
    std::string key;
    const chat_message* expected; // null: a miss
  };
  std::vector<lookup> lookups{{1, 7, "a", &rows[0]}, {1, 7, "zz", nullptr},
                              {1, 7, "b", &rows[1]}, {3, 7, "a", nullptr},
                              {1, 8, "a", &rows[2]}, {1, 8, "b", nullptr},
                              {2, 7, "a", &rows[3]}, {1, 7, "a", &rows[0]}};
  for (int round = 0; round < 25; ++round) {
    for (auto& l : lookups) {
      INFO("round " << round << ": W" << l.workspace << " U" << l.user << " " << l.key);
      auto found = store->find_sent(workspace_id{l.workspace}, user_id{l.user}, l.key);
      REQUIRE(found);
      REQUIRE(found->has_value() == (l.expected != nullptr));
      if (l.expected != nullptr)
        CHECK(same_row(**found, *l.expected));
    }
  }
}

TEST_CASE("appends on one store report stored and duplicate rows right batch after batch",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  for (uint64_t i = 1; i <= 30; ++i) {
    auto key = "m" + std::to_string(i);
    INFO("batch " << i);
    // A new row, its retry and a row of a stale writer of seq i, in one batch.
    auto outcomes = store->append({msg(1, 1, 2 * i - 1, 7, key, "text " + key),
                                   msg(1, 1, 2 * i, 7, key, "retry"), msg(1, 1, 2 * i - 1, 8, "")});
    REQUIRE(outcomes);
    CHECK(statuses(*outcomes)
          == std::vector<append_status>{append_status::stored, append_status::duplicate,
                                        append_status::seq_taken});
    CHECK(same_row((*outcomes)[1].original, msg(1, 1, 2 * i - 1, 7, key, "text " + key)));
    auto missing = store->find_sent(w1, u7, "never-" + key);
    REQUIRE(missing);
    CHECK_FALSE(missing->has_value());
  }
  CHECK(*store->latest_seq(w1, c1) == 59);
}

// A SQLite statement stepped onto a row and left there keeps its read snapshot: a store whose
// prepared lookup found a row must still see what other connections commit afterwards.
TEST_CASE("a store that found a sent message still sees rows committed later by another store",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto reader = db.open();
  auto writer = db.open();
  REQUIRE(writer->append({msg(1, 1, 1, 7, "first")}));
  auto first = reader->find_sent(w1, u7, "first");
  REQUIRE(first);
  REQUIRE(first->has_value());
  REQUIRE(writer->append({msg(1, 1, 2, 7, "second")}));
  CHECK(*reader->latest_seq(w1, c1) == 2);
  auto rows = reader->read_after(w1, c1, 0, 10);
  REQUIRE(rows);
  CHECK(rows->size() == 2);
  auto second = reader->find_sent(w1, u7, "second");
  REQUIRE(second);
  CHECK(second->has_value());
}

TEST_CASE("a failing row rolls back the whole batch and the store stays usable",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  REQUIRE(store->append({msg(1, 1, 1, 7, "before")}));
  db.fail_inserts_at_seq(4);
  auto failed =
    store->append({msg(1, 1, 2, 7, "x2"), msg(1, 1, 3, 7, "x3"), msg(1, 1, 4, 7, "x4")});
  REQUIRE_FALSE(failed);
  CHECK(storage_code(failed.error()) == static_cast<uint8_t>(errc::io_failure));
  CHECK(*store->latest_seq(w1, c1) == 1); // no row of the failed batch is durable
  db.clear_fault();
  auto retried =
    store->append({msg(1, 1, 2, 7, "x2"), msg(1, 1, 3, 7, "x3"), msg(1, 1, 4, 7, "x4")});
  REQUIRE(retried);
  CHECK(statuses(*retried) == std::vector<append_status>(3, append_status::stored));
}

TEST_CASE("a seq beyond 2^63-1 is refused as invalid without storing the batch",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  auto failed = store->append({msg(1, 1, 1, 7, "ok"), msg(1, 1, uint64_t{1} << 63, 7, "big")});
  REQUIRE_FALSE(failed);
  CHECK(storage_code(failed.error()) == static_cast<uint8_t>(errc::invalid));
  CHECK(*store->latest_seq(w1, c1) == 0);
}

TEST_CASE("a reader sees only committed, contiguous prefixes while another store appends",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto reader = db.open();
  constexpr uint64_t batches = 100;
  constexpr uint64_t batch_size = 25;
  std::atomic<int> writer_errors{0};
  std::thread writer{[&] {
    auto store = open_soci_store(db.connection(), sync_mode::full);
    if (!store) {
      ++writer_errors;
      return;
    }
    uint64_t seq = 0;
    for (uint64_t b = 0; b < batches; ++b) {
      std::vector<chat_message> batch;
      for (uint64_t i = 0; i < batch_size; ++i) {
        ++seq;
        batch.push_back(msg(1, 1, seq, 7, "w" + std::to_string(seq)));
      }
      auto outcomes = (*store)->append(batch);
      if (!outcomes)
        ++writer_errors;
    }
  }};
  uint64_t seen = 0;
  int reads = 0;
  int partial_reads = 0; // reads that saw the writer midway
  std::string failure;
  bool ok = true;
  while (seen < batches * batch_size && writer_errors == 0 && ok) {
    auto latest = reader->latest_seq(w1, c1);
    auto rows = reader->read_after(w1, c1, 0, batches * batch_size);
    ok = latest && rows;
    if (!ok) {
      failure = caf::to_string(latest ? rows.error() : latest.error());
      break;
    }
    ++reads;
    // Whole batches only (group commit), in order, never less than latest_seq saw before.
    ok = rows->size() % batch_size == 0 && rows->size() >= *latest;
    for (size_t i = 0; ok && i < rows->size(); ++i)
      ok = (*rows)[i].seq == i + 1;
    if (!ok)
      failure = "saw " + std::to_string(rows->size()) + " rows after latest_seq "
                + std::to_string(*latest);
    seen = rows->size();
    if (seen > 0 && seen < batches * batch_size)
      ++partial_reads;
  }
  writer.join();
  INFO("reads: " << reads << ", of them midway: " << partial_reads); // timing-dependent
  INFO(failure);
  CHECK(ok);
  CHECK(writer_errors == 0);
  CHECK(reads > 0);
  CHECK(*reader->latest_seq(w1, c1) == batches * batch_size);
}

TEST_CASE("two stores appending to one database at once both commit every batch",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  constexpr uint64_t batches = 50;
  constexpr uint64_t batch_size = 10;
  std::atomic<int> errors{0};
  std::mutex first_error_mtx;
  std::string first_error;
  auto note = [&](const caf::error& err) {
    ++errors;
    std::lock_guard<std::mutex> guard{first_error_mtx};
    if (first_error.empty())
      first_error = caf::to_string(err);
  };
  auto write_channel = [&](uint64_t channel) {
    auto store = open_soci_store(db.connection(), sync_mode::normal);
    if (!store) {
      note(store.error());
      return;
    }
    uint64_t seq = 0;
    for (uint64_t b = 0; b < batches; ++b) {
      std::vector<chat_message> batch;
      for (uint64_t i = 0; i < batch_size; ++i) {
        ++seq;
        batch.push_back(msg(1, channel, seq, 7, "c" + std::to_string(channel) + "-"
                                                  + std::to_string(seq)));
      }
      auto outcomes = (*store)->append(batch);
      if (!outcomes)
        note(outcomes.error()); // e.g. SQLITE_BUSY: busy_timeout must absorb lock waits
    }
  };
  std::thread first{write_channel, 1};
  std::thread second{write_channel, 2};
  first.join();
  second.join();
  INFO(first_error);
  CHECK(errors == 0);
  auto store = db.open();
  CHECK(*store->latest_seq(w1, c1) == batches * batch_size);
  CHECK(*store->latest_seq(w1, c2) == batches * batch_size);
}

TEST_CASE("a 1000-row batch commits in one append", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open(sync_mode::full);
  std::vector<chat_message> batch;
  for (uint64_t seq = 1; seq <= 1000; ++seq)
    batch.push_back(msg(1, 1 + seq % 4, 1 + seq / 4, 100 + seq % 10, "b" + std::to_string(seq)));
  auto outcomes = store->append(batch);
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes) == std::vector<append_status>(1000, append_status::stored));
  uint64_t total = 0;
  for (uint64_t c = 1; c <= 4; ++c) {
    auto rows = store->read_after(w1, channel_id{c}, 0, 1000);
    REQUIRE(rows);
    total += rows->size();
  }
  CHECK(total == 1000);
}

TEST_CASE("client_msg_ids differing only in case or trailing spaces are different keys",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  // The dedup key compares bytes: no collation may fold case or pad with spaces.
  auto outcomes = store->append({msg(1, 1, 1, 7, "key"), msg(1, 1, 2, 7, "KEY"),
                                 msg(1, 1, 3, 7, "key "), msg(1, 1, 4, 7, "k\xC3\xA9y"),
                                 msg(1, 1, 5, 7, "ke\xCC\x81y"), msg(1, 1, 6, 7, "key")});
  REQUIRE(outcomes);
  CHECK(statuses(*outcomes)
        == std::vector<append_status>{append_status::stored, append_status::stored,
                                      append_status::stored, append_status::stored,
                                      append_status::stored, append_status::duplicate});
  auto spaced = store->find_sent(w1, u7, "key ");
  REQUIRE(spaced);
  REQUIRE(spaced->has_value());
  CHECK((*spaced)->seq == 3);
}

TEST_CASE("timestamps and texts come back exactly as stored", "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  std::vector<int64_t> stamps{0, 1, 999'999, 1'700'000'000'123'457, 4'102'444'800'000'001};
  std::vector<chat_message> batch;
  for (size_t i = 0; i < stamps.size(); ++i) {
    batch.push_back(msg(1, 1, i + 1, 7, "t" + std::to_string(i)));
    batch.back().ts = stamps[i];
  }
  // 4,000 bytes of four-byte UTF-8 (docs/protocol.md "Rules": the longest text), and odd
  // characters.
  std::string emoji;
  for (int i = 0; i < 1000; ++i)
    emoji += "\xF0\x9F\x98\x80";
  batch[0].text = emoji;
  batch[1].text = "quote ' backslash \\ percent % colon :w semicolon ; newline\n tab\t";
  REQUIRE(store->append(batch));
  auto rows = store->read_after(w1, c1, 0, 10);
  REQUIRE(rows);
  REQUIRE(rows->size() == batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    INFO("row " << i);
    CHECK((*rows)[i].ts == stamps[i]);
    CHECK(same_row((*rows)[i], batch[i]));
  }
}

TEST_CASE("a row the database cannot hold as given fails the batch instead of being altered",
          "[storage][sql]") {
  PARLEY_TEST_DATABASE(db);
  auto store = db.open();
  // 70,000 bytes: beyond a MySQL TEXT column (65,535), where INSERT IGNORE alone would store
  // a truncated row; SQLite and PostgreSQL hold it whole.
  auto big = msg(1, 1, 2, 7, "big", std::string(70'000, 'x'));
  auto outcomes = store->append({msg(1, 1, 1, 7, "small"), big});
  if (db.backend_name() == "mysql") {
    REQUIRE_FALSE(outcomes);
    CHECK(storage_code(outcomes.error()) == static_cast<uint8_t>(errc::io_failure));
    CHECK(*store->latest_seq(w1, c1) == 0); // nothing of the batch is stored
  } else {
    REQUIRE(outcomes);
    auto rows = store->read_after(w1, c1, 0, 10);
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK(same_row((*rows)[1], big));
  }
}
