#include "storage/redis_presence_mirror.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <sys/time.h>

#include <hiredis/hiredis.h>

namespace parley::storage {

std::string redis_gateway_key(principal who) {
  return "user:" + who.workspace.str() + ":" + who.user.str() + ":gateway";
}

std::string redis_online_key(channel_id channel) {
  return "channel:" + channel.str() + ":online";
}

std::string redis_member(principal who) {
  return who.workspace.str() + ":" + who.user.str();
}

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// Removes the user only where this node still owns the gateway key: a user that reconnected
// to another node meanwhile stays online there. KEYS[1] gateway, KEYS[2..] online sets;
// ARGV[1] node, ARGV[2] member.
constexpr const char* offline_script
  = "local g = redis.call('GET', KEYS[1]) "
    "if g and g ~= ARGV[1] then return 0 end "
    "redis.call('DEL', KEYS[1]) "
    "for i = 2, #KEYS do redis.call('SREM', KEYS[i], ARGV[2]) end "
    "return 1";

/// One pipelined batch of commands: appended first, then every reply is read.
class pipeline {
public:
  void add(std::vector<std::string> args) { commands_.push_back(std::move(args)); }

  size_t size() const { return commands_.size(); }

  /// Sends every command and reads every reply; false on an I/O error or timeout (the
  /// context is unusable then). Error replies are counted in `reply_errors`.
  bool run(redisContext* ctx, size_t& reply_errors) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto& cmd : commands_) {
      argv.clear();
      lens.clear();
      for (auto& a : cmd) {
        argv.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data())
          != REDIS_OK)
        return false;
    }
    for (size_t i = 0; i < commands_.size(); ++i) {
      void* raw = nullptr;
      if (redisGetReply(ctx, &raw) != REDIS_OK || raw == nullptr)
        return false;
      auto* reply = static_cast<redisReply*>(raw);
      if (reply->type == REDIS_REPLY_ERROR)
        ++reply_errors;
      freeReplyObject(reply);
    }
    commands_.clear();
    return true;
  }

private:
  std::vector<std::vector<std::string>> commands_;
};

} // namespace

struct redis_presence_mirror::impl {
  redis_mirror_config cfg;
  std::atomic<uint64_t>* external_errors;
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<bool> is_connected{false};

  // Shared with callers (short critical sections only).
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  struct user {
    principal who;
    std::vector<channel_id> channels;
  };
  using change = std::pair<principal, std::optional<std::vector<channel_id>>>; // none: offline
  std::unordered_map<std::string, user> users;      // online here, by member
  std::unordered_map<std::string, principal> dirty; // changed since the last batch, by member

  // Writer thread only.
  redisContext* ctx = nullptr;
  std::unordered_map<std::string, std::vector<channel_id>> written; // what Redis has from us
  std::thread writer;

  impl(redis_mirror_config c, std::atomic<uint64_t>* e) : cfg(std::move(c)), external_errors(e) {
    writer = std::thread([this] { run(); });
  }

  ~impl() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      stopping = true;
    }
    cv.notify_all();
    writer.join();
    disconnect();
  }

  void count_error() {
    ++errors;
    if (external_errors != nullptr)
      ++*external_errors;
  }

  void disconnect() {
    if (ctx != nullptr)
      redisFree(ctx);
    ctx = nullptr;
    is_connected = false;
  }

  bool connect() {
    ctx = redisConnectWithTimeout(cfg.host.c_str(), cfg.port, to_timeval(cfg.connect_timeout));
    if (ctx == nullptr || ctx->err != 0
        || redisSetTimeout(ctx, to_timeval(cfg.command_timeout)) != REDIS_OK) {
      disconnect();
      count_error();
      return false;
    }
    redisEnableKeepAlive(ctx);
    is_connected = true;
    return true;
  }

  /// Adds the commands making Redis show `member` online on `channels`; `gone` are channels
  /// it left since the last write.
  void add_online(pipeline& p, const principal& who, const std::vector<channel_id>& channels,
                  const std::vector<channel_id>& gone) {
    auto ttl = std::to_string(cfg.ttl.count());
    auto member = redis_member(who);
    p.add({"SET", redis_gateway_key(who), cfg.node, "EX", ttl});
    for (auto ch : channels) {
      p.add({"SADD", redis_online_key(ch), member});
      p.add({"EXPIRE", redis_online_key(ch), ttl});
    }
    for (auto ch : gone)
      p.add({"SREM", redis_online_key(ch), member});
  }

  void add_offline(pipeline& p, const principal& who, const std::vector<channel_id>& channels) {
    std::vector<std::string> cmd{"EVAL", offline_script, std::to_string(channels.size() + 1),
                                 redis_gateway_key(who)};
    for (auto ch : channels)
      cmd.push_back(redis_online_key(ch));
    cmd.push_back(cfg.node);
    cmd.push_back(redis_member(who));
    p.add(std::move(cmd));
  }

  /// Runs a pipeline; on failure the connection is dropped and the error counted.
  bool execute(pipeline& p) {
    if (p.size() == 0)
      return true;
    size_t reply_errors = 0;
    if (!p.run(ctx, reply_errors)) {
      disconnect();
      count_error();
      return false;
    }
    if (reply_errors > 0)
      count_error();
    return true;
  }

  void run() {
    using clock = std::chrono::steady_clock;
    auto next_refresh = clock::now();
    auto next_connect = clock::now();
    bool full = true; // the first batch after (re)connecting rewrites everything
    std::unique_lock<std::mutex> lock{mtx};
    for (;;) {
      auto deadline = next_refresh;
      if (!dirty.empty())
        deadline = std::min(deadline, clock::now() + cfg.delta_delay);
      if (ctx == nullptr)
        deadline = std::max(deadline, next_connect);
      cv.wait_until(lock, deadline, [&] { return stopping; });
      if (stopping)
        return;
      auto now = clock::now();
      if (ctx == nullptr && now < next_connect)
        continue;
      bool refresh = full || now >= next_refresh;
      if (!refresh && dirty.empty())
        continue;
      // Snapshot under the lock; Redis is only talked to without it.
      std::vector<change> changes;
      for (auto& [m, who] : dirty) {
        auto u = users.find(m);
        changes.emplace_back(who, u == users.end() ? std::nullopt
                                                   : std::optional{u->second.channels});
      }
      std::unordered_map<std::string, user> all;
      if (refresh)
        all = users;
      auto taken = std::move(dirty);
      dirty.clear();
      lock.unlock();
      bool ok = ctx != nullptr || connect();
      if (ok)
        ok = write(changes, refresh ? &all : nullptr);
      if (ok && refresh) {
        next_refresh = clock::now() + cfg.flush;
        full = false;
      }
      if (!ok) {
        next_connect = clock::now() + cfg.reconnect;
        full = true;
      }
      lock.lock();
      // Failed deltas stay for the next attempt; newer ones for the same user win.
      if (!ok)
        for (auto& [m, who] : taken)
          dirty.emplace(m, who);
    }
  }

  bool write(const std::vector<change>& changes,
             const std::unordered_map<std::string, user>* all) {
    constexpr size_t chunk = 1000; // commands per round trip
    pipeline p;
    auto flush_if_full = [&] { return p.size() < chunk || execute(p); };
    auto new_written = written;
    for (auto& [who, desired] : changes) {
      auto m = redis_member(who);
      std::vector<channel_id> previous;
      if (auto old = new_written.find(m); old != new_written.end())
        previous = old->second;
      if (desired) {
        std::vector<channel_id> gone;
        for (auto ch : previous)
          if (std::find(desired->begin(), desired->end(), ch) == desired->end())
            gone.push_back(ch);
        if (all == nullptr)
          add_online(p, who, *desired, gone);
        else // the refresh below rewrites the online keys anyway
          for (auto ch : gone)
            p.add({"SREM", redis_online_key(ch), m});
        new_written[m] = *desired;
      } else {
        add_offline(p, who, previous);
        new_written.erase(m);
      }
      if (!flush_if_full())
        return false;
    }
    if (all != nullptr) {
      // The TTL refresh (and, after a reconnect, the full resync): one SET per user, one
      // SADD of every member plus one EXPIRE per channel.
      auto ttl = std::to_string(cfg.ttl.count());
      std::map<channel_id, std::vector<std::string>> members;
      for (auto& [m, u] : *all) {
        p.add({"SET", redis_gateway_key(u.who), cfg.node, "EX", ttl});
        for (auto ch : u.channels)
          members[ch].push_back(m);
        new_written[m] = u.channels;
        if (!flush_if_full())
          return false;
      }
      for (auto& [ch, ms] : members) {
        std::vector<std::string> cmd{"SADD", redis_online_key(ch)};
        cmd.insert(cmd.end(), ms.begin(), ms.end());
        p.add(std::move(cmd));
        p.add({"EXPIRE", redis_online_key(ch), ttl});
        if (!flush_if_full())
          return false;
      }
    }
    if (!execute(p))
      return false;
    written = std::move(new_written);
    ++batches;
    return true;
  }
};

redis_presence_mirror::redis_presence_mirror(redis_mirror_config cfg,
                                             std::atomic<uint64_t>* errors)
  : impl_(std::make_unique<impl>(std::move(cfg), errors)) {
}

redis_presence_mirror::~redis_presence_mirror() = default;

void redis_presence_mirror::online(principal who, std::vector<channel_id> channels) {
  auto m = redis_member(who);
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->users[m] = impl::user{who, std::move(channels)};
    impl_->dirty[std::move(m)] = who;
  }
  impl_->cv.notify_one();
}

void redis_presence_mirror::offline(principal who) {
  auto m = redis_member(who);
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->users.erase(m);
    impl_->dirty[std::move(m)] = who;
  }
  impl_->cv.notify_one();
}

uint64_t redis_presence_mirror::batches_written() const {
  return impl_->batches;
}

uint64_t redis_presence_mirror::errors() const {
  return impl_->errors;
}

bool redis_presence_mirror::connected() const {
  return impl_->is_connected;
}

} // namespace parley::storage
