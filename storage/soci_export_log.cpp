#include "storage/soci_store.hpp"

#include <string>
#include <vector>

#include <soci/soci.h>

#include "storage/errors.hpp"
#include "storage/soci_support.hpp"

namespace parley::storage {

// -- export_log ----------------------------------------------------------------------

caf::expected<std::vector<chat_message>>
soci_store::read_unexported(const std::string& stream, workspace_id from_workspace,
                            channel_id from_channel, uint32_t limit) {
  using result = caf::expected<std::vector<chat_message>>;
  return guarded("read_unexported", [&]() -> result {
    std::vector<chat_message> messages;
    long long w = to_db(from_workspace.value, "workspace id");
    long long c = to_db(from_channel.value, "channel id");
    long long n = limit;
    if (n == 0)
      return messages;
    // New channels get a cursor at 0. Exporting from the cursor table keeps each poll at one
    // primary-key range probe per channel instead of a scan of the message table.
    std::string s1 = stream, s2 = stream;
    *sql_ << "INSERT INTO export_cursors (stream, workspace_id, channel_id, last_seq)"
             " SELECT :s, ch.workspace_id, ch.channel_id, 0 FROM channels ch WHERE NOT EXISTS"
             " (SELECT 1 FROM export_cursors x WHERE x.stream = :s2"
             " AND x.workspace_id = ch.workspace_id AND x.channel_id = ch.channel_id)",
      soci::use(s1), soci::use(s2);
    long long w2 = w;
    message_row row;
    soci::statement select
      = (sql_->prepare << "SELECT m.workspace_id, m.channel_id, m.channel_seq, m.user_id,"
                          " m.client_msg_id, m.content, " + dialect_.ts_out("m.ts")
                            + " FROM export_cursors x JOIN messages m"
                              " ON m.workspace_id = x.workspace_id AND m.channel_id = x.channel_id"
                              " AND m.channel_seq > x.last_seq"
                              " WHERE x.stream = :s AND (x.workspace_id > :w"
                              " OR (x.workspace_id = :w2 AND x.channel_id > :c))"
                              " ORDER BY x.workspace_id, x.channel_id, m.channel_seq LIMIT :n",
         soci::use(s1), soci::use(w), soci::use(w2), soci::use(c), soci::use(n),
         soci::into(row.workspace), soci::into(row.channel), soci::into(row.seq),
         soci::into(row.user), soci::into(row.client_msg_id, row.client_msg_id_ind),
         soci::into(row.text, row.text_ind), soci::into(row.ts));
    select.execute();
    while (select.fetch())
      messages.push_back(row.to_message());
    return messages;
  });
}

caf::error soci_store::advance_cursors(const std::string& stream,
                                       const std::vector<export_cursor>& cursors) {
  auto done = guarded("advance_cursors", [&]() -> caf::expected<void> {
    if (cursors.empty())
      return {};
    std::string s = stream;
    long long w = 0, c = 0, q = 0, q2 = 0;
    write_transaction tx{*sql_, dialect_};
    // `last_seq < :q2`: a cursor never moves back (a late, smaller report is a no-op).
    soci::statement update
      = (sql_->prepare << "UPDATE export_cursors SET last_seq = :q WHERE stream = :s"
                          " AND workspace_id = :w AND channel_id = :c AND last_seq < :q2",
         soci::use(q), soci::use(s), soci::use(w), soci::use(c), soci::use(q2));
    for (auto& cur : cursors) {
      w = to_db(cur.workspace.value, "workspace id");
      c = to_db(cur.channel.value, "channel id");
      q = q2 = to_db(cur.last_seq, "last_seq");
      update.execute(true);
    }
    tx.commit();
    return {};
  });
  return done ? caf::error{} : std::move(done.error());
}

caf::expected<std::vector<export_cursor>> soci_store::cursors(const std::string& stream) {
  using result = caf::expected<std::vector<export_cursor>>;
  return guarded("cursors", [&]() -> result {
    std::vector<export_cursor> out;
    std::string s = stream;
    long long w = 0, c = 0, q = 0;
    soci::statement select
      = (sql_->prepare << "SELECT workspace_id, channel_id, last_seq FROM export_cursors"
                          " WHERE stream = :s ORDER BY workspace_id, channel_id",
         soci::use(s), soci::into(w), soci::into(c), soci::into(q));
    select.execute();
    while (select.fetch())
      out.push_back(export_cursor{workspace_id{static_cast<uint64_t>(w)},
                                  channel_id{static_cast<uint64_t>(c)},
                                  static_cast<uint64_t>(q)});
    return out;
  });
}

} // namespace parley::storage
