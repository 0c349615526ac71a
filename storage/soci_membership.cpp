#include "storage/soci_store.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include <soci/soci.h>

#include "protocol/clock.hpp"
#include "storage/errors.hpp"
#include "storage/soci_support.hpp"

namespace parley::storage {

// -- membership_store ----------------------------------------------------------------

caf::expected<std::optional<channel_info>> soci_store::find_channel(channel_id channel) {
  using result = caf::expected<std::optional<channel_info>>;
  return guarded("find_channel", [&]() -> result {
    long long c = to_db(channel.value, "channel id");
    long long workspace = 0;
    std::string name, dm_key;
    soci::indicator dm_key_ind = soci::i_null;
    *sql_ << "SELECT workspace_id, name, dm_key FROM channels WHERE channel_id = :c",
      soci::use(c), soci::into(workspace), soci::into(name), soci::into(dm_key, dm_key_ind);
    if (!sql_->got_data())
      return std::optional<channel_info>{};
    channel_info info;
    info.id = channel;
    info.workspace = workspace_id{static_cast<uint64_t>(workspace)};
    info.is_dm = dm_key_ind == soci::i_ok;
    if (!info.is_dm)
      info.name = name;
    return std::optional<channel_info>{std::move(info)};
  });
}

caf::expected<channel_id> soci_store::create_channel(workspace_id workspace,
                                                     const std::string& name,
                                                     const std::vector<user_id>& members) {
  return guarded("create_channel", [&]() -> caf::expected<channel_id> {
    long long w = to_db(workspace.value, "workspace id");
    for (auto member : members)
      to_db(member.value, "user id");
    long long now = now_us();
    write_transaction tx{*sql_, dialect_};
    *sql_ << "INSERT INTO channels (workspace_id, name, dm_key, created_at)"
             " VALUES (:w, :n, NULL, " + dialect_.ts_in(":t") + ")",
      soci::use(w), soci::use(name), soci::use(now);
    long long c = checked_channel_id(dialect_.last_channel_id(*sql_));
    long long u = 0;
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    // Ignoring conflicts makes a member listed twice harmless.
    for (auto member : members) {
      u = static_cast<long long>(member.value);
      insert.execute(true);
      dialect_.inserted(*sql_, insert);
    }
    tx.commit();
    return channel_id{static_cast<uint64_t>(c)};
  });
}

caf::expected<channel_id> soci_store::open_dm(workspace_id workspace, user_id a, user_id b,
                                              bool& created) {
  created = false;
  if (a == b)
    return make_error(errc::invalid, "open_dm: a DM needs two different users");
  return guarded("open_dm", [&]() -> caf::expected<channel_id> {
    long long w = to_db(workspace.value, "workspace id");
    long long lo = to_db(std::min(a, b).value, "user id");
    long long hi = to_db(std::max(a, b).value, "user id");
    // The key of the unordered pair; at most 62 characters, within VARCHAR(64).
    std::string key = "W" + std::to_string(w) + ":U" + std::to_string(lo) + ":U"
                      + std::to_string(hi);
    long long c = 0;
    write_transaction tx{*sql_, dialect_};
    *sql_ << "SELECT channel_id FROM channels WHERE dm_key = :k", soci::use(key),
      soci::into(c);
    if (sql_->got_data()) {
      tx.commit();
      return channel_id{static_cast<uint64_t>(c)};
    }
    long long now = now_us();
    std::string empty_name;
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channels (workspace_id, name, dm_key, created_at)"
           " VALUES (:w, :n, :k, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(empty_name), soci::use(key), soci::use(now));
    insert.execute(true);
    if (!dialect_.inserted(*sql_, insert)) {
      // Another store created it after our SELECT (possible on backends whose BEGIN does
      // not take the write lock): use theirs.
      *sql_ << "SELECT channel_id FROM channels WHERE dm_key = :k", soci::use(key),
        soci::into(c);
      tx.commit();
      return channel_id{static_cast<uint64_t>(c)};
    }
    c = checked_channel_id(dialect_.last_channel_id(*sql_));
    long long u = 0;
    soci::statement add
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    for (long long member : {lo, hi}) {
      u = member;
      add.execute(true);
      dialect_.inserted(*sql_, add);
    }
    tx.commit();
    created = true;
    return channel_id{static_cast<uint64_t>(c)};
  });
}

caf::expected<std::vector<user_id>> soci_store::members(workspace_id workspace,
                                                        channel_id channel) {
  using result = caf::expected<std::vector<user_id>>;
  return guarded("members", [&]() -> result {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long u = 0;
    std::vector<user_id> users;
    soci::statement select
      = (sql_->prepare << "SELECT user_id FROM channel_members"
                          " WHERE workspace_id = :w AND channel_id = :c ORDER BY user_id",
         soci::use(w), soci::use(c), soci::into(u));
    select.execute();
    while (select.fetch())
      users.emplace_back(static_cast<uint64_t>(u));
    return users;
  });
}

caf::expected<bool> soci_store::add_member(workspace_id workspace, channel_id channel,
                                           user_id user) {
  return guarded("add_member", [&]() -> caf::expected<bool> {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long u = to_db(user.value, "user id");
    long long now = now_us();
    soci::statement insert
      = (sql_->prepare << dialect_.insert_ignore(
           "channel_members (workspace_id, channel_id, user_id, joined_at)"
           " VALUES (:w, :c, :u, " + dialect_.ts_in(":t") + ")"),
         soci::use(w), soci::use(c), soci::use(u), soci::use(now));
    insert.execute(true);
    return dialect_.inserted(*sql_, insert);
  });
}

caf::expected<bool> soci_store::remove_member(workspace_id workspace, channel_id channel,
                                              user_id user) {
  return guarded("remove_member", [&]() -> caf::expected<bool> {
    long long w = to_db(workspace.value, "workspace id");
    long long c = to_db(channel.value, "channel id");
    long long u = to_db(user.value, "user id");
    soci::statement remove
      = (sql_->prepare << "DELETE FROM channel_members"
                          " WHERE workspace_id = :w AND channel_id = :c AND user_id = :u",
         soci::use(w), soci::use(c), soci::use(u));
    remove.execute(true);
    return remove.get_affected_rows() > 0;
  });
}

caf::expected<std::vector<channel_id>> soci_store::channels_of(workspace_id workspace,
                                                               user_id user) {
  using result = caf::expected<std::vector<channel_id>>;
  return guarded("channels_of", [&]() -> result {
    long long w = to_db(workspace.value, "workspace id");
    long long u = to_db(user.value, "user id");
    long long c = 0;
    std::vector<channel_id> channels;
    soci::statement select
      = (sql_->prepare << "SELECT channel_id FROM channel_members"
                          " WHERE workspace_id = :w AND user_id = :u ORDER BY channel_id",
         soci::use(w), soci::use(u), soci::into(c));
    select.execute();
    while (select.fetch())
      channels.emplace_back(static_cast<uint64_t>(c));
    return channels;
  });
}

caf::expected<std::vector<channel_summary>> soci_store::list_channels(workspace_id workspace,
                                                                      user_id user) {
  using result = caf::expected<std::vector<channel_summary>>;
  return guarded("list_channels", [&]() -> result {
    long long w = to_db(workspace.value, "workspace id");
    long long u = to_db(user.value, "user id");
    std::vector<channel_summary> list;
    long long c = 0, latest = 0, dm = 0;
    std::string name;
    // The latest seq is one probe of the messages primary key per channel.
    soci::statement select
      = (sql_->prepare << "SELECT m.channel_id, c.name,"
                          " CASE WHEN c.dm_key IS NULL THEN 0 ELSE 1 END,"
                          " COALESCE((SELECT MAX(x.channel_seq) FROM messages x"
                          " WHERE x.workspace_id = m.workspace_id"
                          " AND x.channel_id = m.channel_id), 0)"
                          " FROM channel_members m JOIN channels c ON c.channel_id = m.channel_id"
                          " WHERE m.workspace_id = :w AND m.user_id = :u ORDER BY m.channel_id",
         soci::use(w), soci::use(u), soci::into(c), soci::into(name), soci::into(dm),
         soci::into(latest));
    select.execute();
    bool any_dm = false;
    while (select.fetch()) {
      channel_summary s;
      s.id = channel_id{static_cast<uint64_t>(c)};
      s.name = name;
      s.latest_seq = static_cast<uint64_t>(latest);
      s.is_dm = dm != 0;
      any_dm = any_dm || s.is_dm;
      list.push_back(std::move(s));
    }
    if (!any_dm)
      return list;
    // The members of the user's DMs, so a list can name a DM after the other member.
    long long member = 0;
    soci::statement dm_members
      = (sql_->prepare << "SELECT o.channel_id, o.user_id FROM channel_members m"
                          " JOIN channels c ON c.channel_id = m.channel_id"
                          " JOIN channel_members o ON o.workspace_id = m.workspace_id"
                          " AND o.channel_id = m.channel_id"
                          " WHERE m.workspace_id = :w AND m.user_id = :u"
                          " AND c.dm_key IS NOT NULL ORDER BY o.channel_id, o.user_id",
         soci::use(w), soci::use(u), soci::into(c), soci::into(member));
    dm_members.execute();
    while (dm_members.fetch()) {
      auto id = channel_id{static_cast<uint64_t>(c)};
      auto it = std::lower_bound(list.begin(), list.end(), id,
                                 [](const channel_summary& s, channel_id x) { return s.id < x; });
      if (it != list.end() && it->id == id && it->is_dm)
        it->members.emplace_back(static_cast<uint64_t>(member));
    }
    return list;
  });
}

} // namespace parley::storage
