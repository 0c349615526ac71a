#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>

#include "tools/bench/scenarios.hpp"
#include "tools/bench/watch_plan.hpp"

namespace parley::bench {

namespace {

/// The user number of "U123"; 0 when it is not one.
uint64_t user_number(std::string_view id) {
  uint64_t n = 0;
  if (id.size() < 2 || id[0] != 'U')
    return 0;
  auto [end, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), n);
  return ec == std::errc{} && end == id.data() + id.size() ? n : 0;
}

/// Whether a presence.update is about a subscribed user (no channel_id) or a channel's.
bool has_channel(std::string_view raw) {
  return raw.find("\"channel_id\":") != std::string_view::npos;
}

/// What the clients hear, checked against the plan: per watcher and watched user the online
/// and offline updates received, and the statuses presence.users answered. The watchers must
/// be the fleet's first clients, in the plan's order.
class presence_observer : public fleet_observer {
public:
  presence_observer(const watch_plan& plan, uint64_t base)
    : plan_(plan), base_(base), ever_ready_(plan.is_watcher.size(), false),
      answers_(plan.watchers.size(), 0), online_(plan.watchers.size()),
      offline_(plan.watchers.size()) {
    for (size_t w = 0; w < plan.watchers.size(); ++w) {
      online_[w].assign(plan.targets[w].size(), 0);
      offline_[w].assign(plan.targets[w].size(), 0);
    }
  }

  /// From now on the bench makes members change; updates before are not theirs.
  void start_transitions() { transitions_started_ = true; }

  /// The next client added to the fleet is member `m`.
  void add_client(size_t m) { member_of_.push_back(m); }

  void on_ready(size_t client, std::string_view) override {
    ever_ready_[member_of_[client]] = true;
  }

  void on_frame(size_t client, const scanned_frame& f, std::string_view raw,
                int64_t recv_ns) override {
    if (f.kind == frame_kind::error) {
      ++errors_[std::string(f.code)];
      return;
    }
    if (f.kind != frame_kind::presence_update && f.kind != frame_kind::presence_users)
      return;
    if (!plan_.is_watcher[member_of_[client]]) {
      ++to_non_watchers_;
      return;
    }
    size_t w = client;
    if (f.kind == frame_kind::presence_users)
      return take_answer(w, raw);
    if (has_channel(raw)) {
      ++channel_updates_; // the channel is above presence.push-max-members: none expected
      return;
    }
    ++received_;
    last_update_ns_ = recv_ns;
    if (!transitions_started_) {
      // No member changed yet: nothing is due. Counted apart, not as a transition's update.
      ++early_updates_;
      return;
    }
    auto t = target_of(w, user_number(string_field(raw, "user_id").value_or("")));
    auto status = string_field(raw, "status").value_or("");
    if (!t)
      ++unwatched_updates_;
    else if (status == "online")
      ++online_[w][*t];
    else if (status == "offline")
      ++offline_[w][*t];
    else
      ++other_status_;
  }

  /// Transitions the bench caused and the updates they should have produced: one per watcher
  /// of a member per transition, over the watchers whose subscriptions were all answered.
  struct tally {
    uint64_t transitions = 0, expected = 0, matched = 0, missing = 0, extra = 0;
    uint64_t expected_online = 0, received_online = 0;
  };

  tally count(const std::vector<size_t>& frames_per_watcher) const {
    tally t;
    for (size_t m = 0; m < ever_ready_.size(); ++m)
      if (ever_ready_[m] && !plan_.is_watcher[m])
        t.transitions += 2; // online when it connected, offline when it closed
    for (size_t w = 0; w < plan_.watchers.size(); ++w) {
      if (!subscribed(w, frames_per_watcher[w]))
        continue;
      for (size_t i = 0; i < plan_.targets[w].size(); ++i) {
        size_t m = plan_.targets[w][i];
        uint64_t want = ever_ready_[m] && !plan_.is_watcher[m] ? 1 : 0;
        for (uint64_t got : {uint64_t{online_[w][i]}, uint64_t{offline_[w][i]}}) {
          t.expected += want;
          t.matched += std::min(got, want);
          t.missing += want > got ? want - got : 0;
          t.extra += got > want ? got - want : 0;
        }
        t.expected_online += want;
        t.received_online += std::min<uint64_t>(online_[w][i], want);
      }
    }
    return t;
  }

  bool subscribed(size_t w, size_t frames) const { return frames > 0 && answers_[w] >= frames; }
  size_t answers(size_t w) const { return answers_[w]; }
  uint64_t received() const { return received_; }
  uint64_t early_updates() const { return early_updates_; }
  uint64_t answered_users() const { return answered_users_; }
  uint64_t initial_mismatches() const { return initial_mismatches_; }
  uint64_t channel_updates() const { return channel_updates_; }
  uint64_t unwatched_updates() const { return unwatched_updates_; }
  uint64_t other_status() const { return other_status_; }
  uint64_t to_non_watchers() const { return to_non_watchers_; }
  int64_t last_update_ns() const { return last_update_ns_; }
  const std::map<std::string, uint64_t>& errors() const { return errors_; }

private:
  std::optional<size_t> target_of(size_t w, uint64_t user) const {
    if (user < base_)
      return std::nullopt;
    auto& list = plan_.targets[w];
    auto i = std::lower_bound(list.begin(), list.end(), user - base_);
    if (i == list.end() || *i != user - base_)
      return std::nullopt;
    return static_cast<size_t>(i - list.begin());
  }

  // presence.users: each watched user's status now. Every watcher connected before any
  // subscribe, so a watched watcher is online and every other member offline.
  void take_answer(size_t w, std::string_view raw) {
    ++answers_[w];
    try {
      // Keep the document: a range-for over a member of a temporary would dangle.
      auto doc = nlohmann::json::parse(raw);
      for (auto& u : doc.at("users")) {
        auto user = user_number(u.at("user_id").get<std::string>());
        auto t = target_of(w, user);
        if (!t) {
          ++unwatched_updates_;
          continue;
        }
        ++answered_users_;
        size_t m = plan_.targets[w][*t];
        bool online = plan_.is_watcher[m] && ever_ready_[m];
        if (u.at("status").get<std::string>() != (online ? "online" : "offline"))
          ++initial_mismatches_;
      }
    } catch (const std::exception&) {
      ++errors_["unreadable presence.users"];
    }
  }

  const watch_plan& plan_;
  uint64_t base_;
  std::vector<size_t> member_of_;  // per client
  std::vector<bool> ever_ready_;   // per member
  std::vector<size_t> answers_;    // per watcher: presence.users received
  std::vector<std::vector<uint16_t>> online_, offline_;  // per watcher, per target
  uint64_t received_ = 0, answered_users_ = 0, initial_mismatches_ = 0, channel_updates_ = 0,
           unwatched_updates_ = 0, other_status_ = 0, to_non_watchers_ = 0, early_updates_ = 0;
  bool transitions_started_ = false;
  int64_t last_update_ns_ = 0;
  std::map<std::string, uint64_t> errors_;
};

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

} // namespace

ojson run_presence(const options& o, admin_api& admin) {
  uint64_t base = choose_user_base(o);
  watch_plan plan = make_watch_plan(o.members, o.watchers, o.watch);
  size_t watchers = plan.watchers.size();
  ojson out;
  out["target"] = "parley";
  out["users_from"] = base;
  std::vector<uint64_t> members;
  for (size_t i = 0; i < o.members; ++i)
    members.push_back(base + i);
  std::string channel =
    admin.create_channel(o.workspace, "bench-presence-" + std::to_string(base), members);
  out["channel_id"] = channel;
  if (o.members <= 1000)
    std::fprintf(stderr, "note: %zu members: at or below the node's default "
                 "presence.push-max-members (1,000) the channel pushes presence too; those "
                 "updates are counted apart (channel_presence_updates)\n", o.members);

  boost::asio::io_context io(1);
  presence_observer rx(plan, base);
  fleet f(io, make_fleet_config(o), rx);
  // The watchers are the first clients, in the plan's order (presence_observer relies on it).
  for (size_t w = 0; w < watchers; ++w) {
    rx.add_client(plan.watchers[w]);
    f.add(base + plan.watchers[w], channel, w);
  }

  // 1. The watchers connect and subscribe, in frames of at most 100 ids.
  std::printf("presence: %zu members, %zu watchers x %zu subscriptions, channel %s\n",
              o.members, watchers, o.watch, channel.c_str());
  if (watchers > 0)
    out["watchers_connect"] = connect_phase(f, o);
  std::vector<size_t> frames_per_watcher(watchers, 0);
  auto sub_start = steady::now();
  for (size_t w = 0; w < watchers; ++w) {
    if (!f.ready(w))
      continue;
    std::vector<uint64_t> users;
    for (auto m : plan.targets[w])
      users.push_back(base + m);
    auto frames = subscribe_frames(users);
    frames_per_watcher[w] = frames.size();
    for (auto& frame : frames)
      f.send(w, std::make_shared<const std::string>(std::move(frame)));
  }
  auto all_answered = [&] {
    for (size_t w = 0; w < watchers; ++w)
      if (f.ready(w) && rx.answers(w) < frames_per_watcher[w])
        return false;
    return true;
  };
  bool answered = f.run_until(all_answered, steady::now() + ms(o.settle_s));
  double sub_s = std::chrono::duration<double>(steady::now() - sub_start).count();
  size_t subscribed = 0;
  for (size_t w = 0; w < watchers; ++w)
    subscribed += rx.subscribed(w, frames_per_watcher[w]) ? 1 : 0;
  if (watchers > 0) {
    std::printf("subscribe\n");
    print_row("watchers subscribed", strf("%zu of %zu in %.2f s%s", subscribed, watchers, sub_s,
                                          answered ? "" : " (timed out: --settle)"));
    print_row("users answered / status mismatches",
              strf("%llu / %llu", (unsigned long long)rx.answered_users(),
                   (unsigned long long)rx.initial_mismatches()));
    if (rx.early_updates())
      print_row("UPDATES BEFORE ANY CHANGE", strf("%llu presence.update while subscribing",
                                                  (unsigned long long)rx.early_updates()));
  }
  out["subscribe"] = {{"watchers", watchers},
                      {"subscribed", subscribed},
                      {"seconds", sub_s},
                      {"users_answered", rx.answered_users()},
                      {"status_mismatches", rx.initial_mismatches()},
                      {"updates_before_any_change", rx.early_updates()}};

  // 2. The other members connect (offline -> online), are held, then close (-> offline).
  // The node pushes at most one update per user per second, so --hold >= 1.2 s has both
  // transitions of a user pushed as they happen; shorter holds delay the offline ones.
  for (size_t m = 0; m < o.members; ++m)
    if (!plan.is_watcher[m]) {
      rx.add_client(m);
      f.add(base + m, channel, f.size());
    }
  rx.start_transitions();
  auto rss0 = sample_nodes(o.node_pids);
  double self0 = self_cpu_s();
  auto t0 = steady::now();
  auto report = f.connect_all();
  f.run_for(ms(o.hold_s));
  auto cpu1 = sample_nodes(o.node_pids);
  auto online_by_close = rx.count(frames_per_watcher);
  auto t1 = steady::now();
  size_t closed = 0;
  for (size_t c = watchers; c < f.size(); ++c)
    if (f.ready(c)) {
      f.close(c);
      ++closed;
    }
  int64_t close_ns = now_ns();
  f.run_for(ms(o.drain_s));
  auto cpu2 = sample_nodes(o.node_pids);
  double self1 = self_cpu_s();
  double connect_wall = std::chrono::duration<double>(t1 - t0).count();
  double close_wall = std::chrono::duration<double>(steady::now() - t1).count();
  size_t watchers_closed = 0;
  for (size_t w = 0; w < watchers; ++w)
    watchers_closed += f.ready(w) ? 0 : 1;

  auto t = rx.count(frames_per_watcher);
  uint64_t in_phase = rx.received() - rx.early_updates();
  double per_transition = t.transitions ? static_cast<double>(in_phase) / t.transitions : 0;
  double expected_per = t.transitions ? static_cast<double>(t.expected) / t.transitions : 0;
  bool exact = t.missing == 0 && t.extra == 0 && rx.received() == t.expected
               && rx.channel_updates() == 0 && subscribed == watchers && watchers_closed == 0;
  std::printf("members\n");
  print_row("connected / failed / closed",
            strf("%zu / %zu / %zu in %.2f s", report.ready, report.failed, closed,
                 report.seconds));
  for (auto& [why, n] : report.failures)
    print_row("  failure", strf("%zu x %s", n, why.c_str()));
  print_row("transitions (connects + closes)", strf("%llu", (unsigned long long)t.transitions));
  print_row("presence.update received / expected",
            strf("%llu / %llu (missing %llu, extra %llu)%s", (unsigned long long)in_phase,
                 (unsigned long long)t.expected, (unsigned long long)t.missing,
                 (unsigned long long)t.extra, exact ? "" : "  MISMATCH"));
  print_row("online updates by the close", strf("%llu of %llu",
                                                (unsigned long long)online_by_close.received_online,
                                                (unsigned long long)online_by_close.expected_online));
  print_row("updates per transition", strf("%.3f (expected %.3f)", per_transition, expected_per));
  if (rx.last_update_ns() > close_ns)
    print_row("last update after the close",
              strf("%.0f ms", static_cast<double>(rx.last_update_ns() - close_ns) / 1e6));
  if (rx.channel_updates() || rx.unwatched_updates() || rx.other_status() || rx.to_non_watchers())
    print_row("UNEXPECTED", strf("channel updates %llu, unwatched %llu, other status %llu, "
                                 "to non-watchers %llu",
                                 (unsigned long long)rx.channel_updates(),
                                 (unsigned long long)rx.unwatched_updates(),
                                 (unsigned long long)rx.other_status(),
                                 (unsigned long long)rx.to_non_watchers()));
  if (watchers_closed)
    print_row("WATCHERS CLOSED BY NODE", strf("%zu", watchers_closed));
  for (auto& [code, n] : rx.errors())
    print_row("error " + code, strf("%llu", (unsigned long long)n));

  ojson r;
  r["transitions"] = t.transitions;
  r["expected_updates"] = t.expected;
  r["received_updates"] = in_phase;
  r["received_updates_in_all"] = rx.received();  // with those before any change
  r["missing_updates"] = t.missing;
  r["extra_updates"] = t.extra;
  r["exact"] = exact;
  r["updates_per_transition"] = per_transition;
  r["expected_updates_per_transition"] = expected_per;
  r["online_updates_by_close"] = online_by_close.received_online;
  r["online_updates_expected"] = online_by_close.expected_online;
  r["last_update_after_close_ms"] =
    rx.last_update_ns() > close_ns ? static_cast<double>(rx.last_update_ns() - close_ns) / 1e6 : 0;
  r["channel_presence_updates"] = rx.channel_updates();
  r["unwatched_updates"] = rx.unwatched_updates();
  r["presence_frames_to_non_watchers"] = rx.to_non_watchers();
  r["watchers_closed_by_node"] = watchers_closed;
  r["errors"] = rx.errors();
  out["members_connect"] = {{"clients", f.size() - watchers}, {"ready", report.ready},
                            {"failed", report.failed}, {"seconds", report.seconds},
                            {"connects_per_s", report.seconds > 0 ? report.ready / report.seconds
                                                                  : 0.0},
                            {"failures", report.failures}, {"closed", closed}};
  ojson cost;
  cost["connect_wall_s"] = connect_wall;
  cost["close_wall_s"] = close_wall;
  cost["bench_cpu_s"] = self1 - self0;
  if (rss0.ok && cpu1.ok && cpu2.ok) {
    double cpu = cpu2.cpu_s - rss0.cpu_s;
    cost["node_cpu_s_connect_and_hold"] = cpu1.cpu_s - rss0.cpu_s;
    cost["node_cpu_s_close_and_drain"] = cpu2.cpu_s - cpu1.cpu_s;
    cost["node_cpu_s"] = cpu;
    cost["node_cpu_us_per_transition"] = t.transitions ? cpu * 1e6 / t.transitions : 0;
    cost["node_cpu_us_per_close"] = closed ? (cpu2.cpu_s - cpu1.cpu_s) * 1e6 / closed : 0;
    cost["node_rss_kb_before_members"] = rss0.rss_kb;
    cost["node_rss_kb_after_hold"] = cpu1.rss_kb;
    cost["node_rss_kb"] = cpu2.rss_kb;
    print_row("node CPU connect+hold / close+drain",
              strf("%.2f s / %.2f s (%.1f / %.1f s wall)", cpu1.cpu_s - rss0.cpu_s,
                   cpu2.cpu_s - cpu1.cpu_s, connect_wall, close_wall));
    print_row("node CPU per transition", strf("%.1f us (per close %.1f us)",
                                              cost["node_cpu_us_per_transition"].get<double>(),
                                              cost["node_cpu_us_per_close"].get<double>()));
    print_row("node RSS before members / held / after",
              strf("%.1f / %.1f / %.1f MiB", rss0.rss_kb / 1024.0, cpu1.rss_kb / 1024.0,
                   cpu2.rss_kb / 1024.0));
  } else {
    print_row("node CPU", "pass --node-pid PID to measure");
  }
  print_row("bench CPU", strf("%.2f s", self1 - self0));
  out["params"] = {{"members", o.members}, {"watchers_fraction", o.watchers},
                   {"watchers", watchers}, {"watch", o.watch}, {"hold_s", o.hold_s},
                   {"drain_s", o.drain_s}};
  out["results"] = r;
  out["cost"] = cost;
  out["frames"] = frames_json(f);
  f.close_all();
  return out;
}

} // namespace parley::bench
