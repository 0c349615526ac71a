#include "actors/connection.hpp"

#include <algorithm>
#include <memory>

#include "actors/errors.hpp"
#include "protocol/clock.hpp"
#include "protocol/jwt.hpp"
#include "protocol/server_frame.hpp"

namespace parley {

namespace {

using connection_self = connection_actor::stateful_pointer<connection_state>;

/// Frames a client may pipeline behind its hello before the server answers it.
constexpr size_t max_held_frames = 256;

void push(connection_self self, std::string frame) {
  self->state.sink->push_control(share(std::move(frame)));
}

void push_error(connection_self self, error_code code, std::string message,
                std::optional<std::string> ref_id = std::nullopt,
                std::optional<channel_id> ch = std::nullopt) {
  frame_error e{code, std::move(message), std::move(ref_id), ch};
  push(self, encode_error(e));
}

/// An error frame for a failed channel request (actors/errors.hpp `to_client_error`).
void push_failure(connection_self self, const caf::error& err,
                  std::optional<std::string> ref_id, channel_id ch) {
  auto e = to_client_error(err);
  push_error(self, e.code, std::move(e.message), std::move(ref_id), ch);
}

void close(connection_self self, uint16_t code, std::string reason) {
  auto& st = self->state;
  if (st.current == connection_state::phase::closing)
    return;
  st.current = connection_state::phase::closing;
  st.sink->close(code, std::move(reason));
}

/// Asks the channel's actor (or stub), answering within `timeout`. The handle is cached per
/// connection; if the cached actor is gone by now (passivated, re-homed, stepped down) the
/// directory is asked once more, so a stale cache never costs the client an error.
template <class OnValue, class OnError, class... Ts>
void ask_channel_within(connection_self self, caf::duration timeout, channel_id ch,
                        OnValue on_value, OnError on_error, Ts... xs) {
  auto& st = self->state;
  auto i = st.channels.find(ch);
  bool cached = i != st.channels.end();
  if (!cached)
    i = st.channels.emplace(ch, st.deps->channels->get(ch)).first;
  auto hdl = i->second;
  self->request(hdl, timeout, xs...).then(on_value, [=](caf::error& err) {
    auto& channels = self->state.channels;
    if (auto j = channels.find(ch); j != channels.end() && j->second == hdl)
      channels.erase(j);
    if (cached && err == caf::sec::request_receiver_down)
      ask_channel_within(self, timeout, ch, on_value, on_error, xs...);
    else
      on_error(err);
  });
}

template <class OnValue, class OnError, class... Ts>
void ask_channel(connection_self self, channel_id ch, OnValue on_value, OnError on_error,
                 Ts... xs) {
  ask_channel_within(self, caf::duration{self->state.deps->env.limits.request_timeout}, ch,
                     on_value, on_error, xs...);
}

// -- send deadlines ------------------------------------------------------------------------

// Sends go to their channel without a CAF request timeout: CAF 0.17 registers every request
// timeout with its clock thread and never cancels it, which cost a clock entry, a wake-up and
// a stale message per send. Instead one tick per connection answers a send still unanswered
// after the request timeout (its channel's node went away, say) with `unavailable`, as the
// timeout did; the late answer, if any, is dropped.

void watch_sends(connection_self self) {
  auto& st = self->state;
  if (st.send_deadline_scheduled || st.sends.empty())
    return;
  st.send_deadline_scheduled = true;
  auto due = st.sends.front().asked + st.deps->env.limits.request_timeout - self->clock().now();
  self->delayed_send(self, std::max<caf::timespan>(due, caf::timespan{0}), deadline_atom::value);
}

void forget_answered_sends(connection_state& st) {
  auto first_open = std::find_if(st.sends.begin(), st.sends.end(),
                                 [](const auto& s) { return !s.answered; });
  st.sends.erase(st.sends.begin(), first_open);
  if (st.sends.empty() && st.sends.capacity() > 64)
    st.sends.shrink_to_fit(); // a burst's entries are not kept by an idle connection
}

/// Marks send `token` answered; false if it was answered already (by the deadline).
bool answer_send(connection_self self, uint64_t token) {
  auto& st = self->state;
  auto i = std::lower_bound(st.sends.begin(), st.sends.end(), token,
                            [](const auto& s, uint64_t t) { return s.token < t; });
  if (i == st.sends.end() || i->token != token || i->answered)
    return false;
  i->answered = true;
  forget_answered_sends(st);
  return true;
}

void on_send_deadline(connection_self self) {
  auto& st = self->state;
  st.send_deadline_scheduled = false;
  auto now = self->clock().now();
  for (auto& s : st.sends) {
    if (s.answered || now - s.asked < st.deps->env.limits.request_timeout)
      continue;
    s.answered = true;
    push_failure(self, make_error(error_code::unavailable), s.client_msg_id, s.channel);
  }
  forget_answered_sends(st);
  watch_sends(self);
}

void handle_frame(connection_self self, const std::string& text);

void on_send(connection_self self, send_frame& f) {
  auto& st = self->state;
  send_request req{st.who, f.channel, f.client_msg_id, std::move(f.text), st.deps->gateway, st.id};
  auto cmid = f.client_msg_id;
  auto ch = f.channel;
  auto token = st.next_send_token++;
  st.sends.push_back({token, self->clock().now(), ch, cmid, false});
  watch_sends(self);
  ask_channel_within(
    self, caf::infinite, ch,
    [=](const send_reply& r) {
      if (answer_send(self, token) && !r.written_by_gateway)
        push(self, encode_ack(r.ack));
    },
    [=](const caf::error& err) {
      if (answer_send(self, token))
        push_failure(self, err, cmid, ch);
    },
    send_atom::value, std::move(req));
}

void on_backfill(connection_self self, const backfill_frame& f) {
  auto& st = self->state;
  auto ch = f.channel;
  ask_channel(
    self, ch,
    [=](const backfill_page& page) {
      push(self, encode_backfill(page.channel, page.after_seq, page.messages, page.has_more));
    },
    [=](const caf::error& err) { push_failure(self, err, std::nullopt, ch); },
    backfill_atom::value, st.who, f.after_seq, f.limit);
}

void on_presence_get(connection_self self, const presence_get_frame& f) {
  auto& st = self->state;
  auto ch = f.channel;
  ask_channel(
    self, ch,
    [=](const std::vector<presence_entry>& entries) {
      std::vector<std::pair<user_id, presence_status>> users;
      for (auto& e : entries)
        users.emplace_back(e.user, e.status);
      push(self, encode_presence_state(ch, users));
    },
    [=](const caf::error& err) { push_failure(self, err, std::nullopt, ch); },
    who_atom::value, st.who);
}

/// presence.subscribe / presence.unsubscribe (docs/protocol.md "Presence subscriptions"):
/// the connection keeps the bound, its gateway the subscriptions.
void on_presence_watch(connection_self self, const presence_watch_frame& f) {
  auto& st = self->state;
  auto& watching = st.watching;
  if (!f.subscribe) {
    std::vector<user_id> removed;
    std::set_intersection(f.users.begin(), f.users.end(), watching.begin(), watching.end(),
                          std::back_inserter(removed));
    if (removed.empty())
      return;
    std::vector<user_id> kept;
    std::set_difference(watching.begin(), watching.end(), removed.begin(), removed.end(),
                        std::back_inserter(kept));
    watching = std::move(kept);
    self->send(st.deps->gateway, unwatch_atom::value, st.id, st.who.workspace, removed);
    return;
  }
  std::vector<user_id> merged;
  std::set_union(watching.begin(), watching.end(), f.users.begin(), f.users.end(),
                 std::back_inserter(merged));
  auto max = st.deps->env.limits.presence_subscribe_max;
  if (merged.size() > max) {
    push_error(self, error_code::bad_request,
               "at most " + std::to_string(max) + " presence subscriptions per connection");
    return;
  }
  watching = std::move(merged);
  self->request(st.deps->gateway, st.deps->env.limits.request_timeout, watch_atom::value, st.id,
                st.who.workspace, f.users)
    .then(
      [=](const std::vector<presence_entry>& now) {
        std::vector<std::pair<user_id, presence_status>> users;
        for (auto& e : now)
          users.emplace_back(e.user, e.status);
        push(self, encode_presence_users(users));
      },
      [=](const caf::error& err) {
        auto e = to_client_error(err);
        push_error(self, e.code, std::move(e.message));
      });
}

/// hello_ack goes first, then one backfill page per channel that is behind, then live frames
/// (the sink held them): docs/protocol.md "Rules", hello.
void finish_hello(connection_self self, const hello_frame& hello,
                  const std::vector<channel_position>& positions) {
  auto& st = self->state;
  std::vector<std::pair<channel_id, uint64_t>> channels;
  for (auto& p : positions)
    channels.emplace_back(p.channel, p.latest_seq);
  auto ack = share(encode_hello_ack(st.who.user, st.session_id, channels));
  std::vector<std::pair<channel_id, uint64_t>> behind;
  for (auto& [ch, last] : hello.last_seq_map)
    for (auto& p : positions)
      if (p.channel == ch && p.latest_seq > last)
        behind.emplace_back(ch, last);
  struct fan_in {
    std::vector<frame_ptr> frames;
    size_t outstanding = 0;
  };
  auto acc = std::make_shared<fan_in>();
  acc->frames.resize(behind.size() + 1);
  acc->frames[0] = ack;
  acc->outstanding = behind.size();
  auto release = [self, acc] {
    auto& st = self->state;
    std::vector<frame_ptr> first;
    for (auto& f : acc->frames)
      if (f)
        first.push_back(f);
    st.sink->release(std::move(first));
    if (st.current != connection_state::phase::greeting)
      return;
    st.current = connection_state::phase::ready;
    auto held = std::move(st.held);
    st.held.clear();
    for (auto& text : held)
      handle_frame(self, text);
  };
  if (behind.empty()) {
    release();
    return;
  }
  for (size_t i = 0; i < behind.size(); ++i) {
    auto [ch, last] = behind[i];
    ask_channel(
      self, ch,
      [=](const backfill_page& page) {
        acc->frames[i + 1]
          = share(encode_backfill(page.channel, page.after_seq, page.messages, page.has_more));
        if (--acc->outstanding == 0)
          release();
      },
      [=](const caf::error&) {
        // The client still gets hello_ack and can ask with `backfill`.
        if (--acc->outstanding == 0)
          release();
      },
      backfill_atom::value, st.who, last, max_backfill_limit);
  }
}

void on_hello(connection_self self, const hello_frame& hello) {
  auto& st = self->state;
  st.current = connection_state::phase::greeting;
  st.registered = true;
  st.sink->hold();
  self
    ->request(st.deps->gateway, st.deps->env.limits.request_timeout * 3, register_atom::value,
              st.id, st.who, st.sink)
    .then(
      [=](const std::vector<channel_position>& positions) { finish_hello(self, hello, positions); },
      [=](caf::error&) {
        self->state.sink->release({});
        push_error(self, error_code::unavailable, "node could not register the session");
        close(self, close_code::internal, "registration failed");
      });
}

void handle_frame(connection_self self, const std::string& text) {
  auto& st = self->state;
  auto parsed = parse_client_frame(text);
  if (auto err = std::get_if<frame_error>(&parsed)) {
    push(self, encode_error(*err));
    return;
  }
  auto& frame = std::get<client_frame>(parsed);
  if (auto ping = std::get_if<ping_frame>(&frame)) {
    push(self, encode_pong(ping->ts_json));
    return;
  }
  if (auto hello = std::get_if<hello_frame>(&frame)) {
    if (st.current == connection_state::phase::awaiting_hello)
      on_hello(self, *hello);
    else
      push_error(self, error_code::bad_request, "hello was already received");
    return;
  }
  if (st.current == connection_state::phase::awaiting_hello) {
    std::optional<std::string> ref;
    if (auto s = std::get_if<send_frame>(&frame))
      ref = s->client_msg_id;
    push_error(self, error_code::bad_request, "the first frame must be hello", ref);
    return;
  }
  if (auto send = std::get_if<send_frame>(&frame))
    on_send(self, *send);
  else if (auto bf = std::get_if<backfill_frame>(&frame))
    on_backfill(self, *bf);
  else if (auto ps = std::get_if<presence_set_frame>(&frame))
    self->send(st.deps->presence, status_atom::value, st.who, ps->status);
  else if (auto pg = std::get_if<presence_get_frame>(&frame))
    on_presence_get(self, *pg);
  else if (auto pw = std::get_if<presence_watch_frame>(&frame))
    on_presence_watch(self, *pw);
}

void schedule_idle_check(connection_self self, caf::timespan after) {
  self->delayed_send(self, after, idle_tmo_atom::value);
}

} // namespace

connection_actor::behavior_type connection(connection_self self, connection_deps_ptr deps,
                                           uint64_t id, principal who, int64_t token_exp_s,
                                           sink_ptr sink) {
  auto& st = self->state;
  st.deps = std::move(deps);
  st.id = id;
  st.who = who;
  st.sink = std::move(sink);
  st.session_id = "s" + random_hex(8);
  st.last_activity = self->clock().now();
  st.slot =
    actor_slot(st.deps->env.metrics, actor_kind::connection, self->id(), std::to_string(id));
  self->delayed_send(self, st.deps->env.limits.hello_timeout, hello_tmo_atom::value);
  schedule_idle_check(self, st.deps->env.limits.idle_timeout);
  // A token that expires mid-session closes with 4001 at exp + leeway.
  auto now_s = now_us() / 1'000'000;
  auto left_s = token_exp_s + jwt_leeway_s - now_s;
  self->delayed_send(self, std::chrono::seconds(std::max<int64_t>(left_s, 0)),
                     expiry_atom::value);
  return {
    [=](frame_atom, const std::string& text) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      st.last_activity = self->clock().now();
      switch (st.current) {
        case connection_state::phase::closing:
          return;
        case connection_state::phase::greeting:
          if (st.held.size() >= max_held_frames) {
            close(self, close_code::policy, "too many frames before hello_ack");
            return;
          }
          st.held.push_back(text);
          return;
        default:
          handle_frame(self, text);
      }
    },
    [=](activity_atom) {
      auto probe = metrics_probe(self);
      self->state.last_activity = self->clock().now();
    },
    [=](closed_atom) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      if (st.registered)
        self->send(st.deps->gateway, unregister_atom::value, st.id);
      st.current = connection_state::phase::closing;
      self->quit();
    },
    [=](hello_tmo_atom) {
      auto probe = metrics_probe(self);
      if (self->state.current == connection_state::phase::awaiting_hello)
        close(self, close_code::policy, "no hello within the time limit");
    },
    [=](idle_tmo_atom) {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      auto silent = self->clock().now() - st.last_activity;
      if (silent >= st.deps->env.limits.idle_timeout)
        close(self, close_code::going_away, "no frame for too long");
      else
        schedule_idle_check(self, st.deps->env.limits.idle_timeout - silent);
    },
    [=](expiry_atom) {
      auto probe = metrics_probe(self);
      close(self, close_code::token_expired, "token expired");
    },
    [=](deadline_atom) {
      auto probe = metrics_probe(self);
      on_send_deadline(self);
    },
  };
}

} // namespace parley
