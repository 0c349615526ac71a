#include "runtime/rest_api.hpp"

#include <limits>
#include <optional>

#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/interfaces.hpp"
#include "protocol/client_frame.hpp"
#include "protocol/clock.hpp"
#include "protocol/jwt.hpp"
#include "protocol/server_frame.hpp"
#include "runtime/auth.hpp"
#include "runtime/metrics.hpp"
#include "runtime/request_target.hpp"
#include "runtime/routes.hpp"
#include "runtime/static_files.hpp"

namespace parley {

namespace http = boost::beast::http;
using json = nlohmann::json;

rest_reply error_reply(int status, const std::string& code, const std::string& message) {
  rest_reply r;
  r.status = status;
  r.body = json{{"code", code}, {"message", message}};
  return r;
}

namespace {

rest_reply code_reply(error_code code, const std::string& message) {
  return error_reply(http_status(code), std::string(to_string(code)), message);
}

/// A failed actor request, as the caller may see it (actors/errors.hpp `to_client_error`).
rest_reply failure_reply(const caf::error& err, asker who) {
  auto e = to_client_error(err, who);
  return code_reply(e.code, e.message);
}

rest_reply user_error(const caf::error& err) {
  return failure_reply(err, asker::user);
}

rest_reply admin_error(const caf::error& err) {
  return failure_reply(err, asker::admin);
}

rest_reply frame_error_reply(const frame_error& e) {
  return code_reply(e.code, e.message);
}

/// Asks an actor from an Asio thread without blocking it: a short-lived actor waits for the
/// answer and calls back.
template <class Handle, class OnValue, class... Ts>
void ask(server_context& ctx, Handle dest, rest_api::callback done,
         std::function<rest_reply(const caf::error&)> on_error, OnValue on_value, Ts... xs) {
  auto timeout = ctx.node->env.limits.request_timeout;
  // `dest` goes in as a spawn argument: with none at all CAF 0.17 binds a reference to a null
  // pointer (UBSan reports it).
  ctx.system.spawn(
    [=](caf::event_based_actor* self, const Handle& to) {
      self->request(to, timeout, xs...)
        .then(on_value, [=](caf::error& err) { done(on_error(err)); });
    },
    dest);
}

std::optional<json> parse_body(const rest_api::request& req) {
  auto j = json::parse(req.body(), nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return std::nullopt;
  return j;
}

/// Query values as JSON: integers stay numbers, anything else a string (then refused by the
/// field validators with bad_request).
json query_value(const std::string& v) {
  if (!v.empty() && v.size() < 20 && v.find_first_not_of("-0123456789") == std::string::npos) {
    try {
      return std::stoll(v);
    } catch (...) {
    }
  }
  return v;
}

class request_handler {
public:
  request_handler(server_context& ctx, const rest_api::request& req, rest_api::callback done)
    : ctx_(ctx), req_(req), done_(std::move(done)),
      target_(parse_target(std::string_view(req.target().data(), req.target().size()))) {}

  void run() {
    switch (match_route(req_.method(), target_.segments, ctx_.config.dev_login)) {
      case endpoint::web_page:
        return done_(serve_static(ctx_.config.web_dir, target_.segments));
      case endpoint::healthz:
        return done_(rest_reply{200, json{{"status", "ok"}, {"node", ctx_.config.node_name}}});
      case endpoint::metrics: {
        rest_reply r;
        r.content_type = "text/plain; version=0.0.4";
        r.raw = render_metrics(ctx_);
        return done_(std::move(r));
      }
      case endpoint::post_message:
        return with_user([this](principal who) { post_message(who); });
      case endpoint::get_messages:
        return with_user([this](principal who) { get_messages(who); });
      case endpoint::get_presence:
        return with_user([this](principal who) { get_presence(who); });
      case endpoint::open_dm:
        return with_user([this](principal who) { post_dm(who); });
      case endpoint::list_channels:
        return with_user([this](principal who) { list_channels(who); });
      case endpoint::create_channel:
        return with_admin([this] { create_channel(); });
      case endpoint::add_members:
        return with_admin([this] { add_members(); });
      case endpoint::remove_member:
        return with_admin([this] { remove_member(); });
      case endpoint::dev_token:
        return dev_token();
      case endpoint::admin_actors:
        return with_admin([this] { list_actors(); });
      case endpoint::ws_without_upgrade:
        return done_(error_reply(400, "bad_request", "a WebSocket upgrade is required here"));
      case endpoint::method_not_allowed:
        return method_not_allowed();
      case endpoint::not_found:
        break;
    }
    done_(error_reply(404, "not_found", "no such endpoint"));
  }


private:
  void method_not_allowed() {
    auto r = code_reply(error_code::method_not_allowed, "method not allowed");
    r.headers.emplace_back("Allow", allowed_methods(target_.segments, ctx_.config.dev_login));
    done_(std::move(r));
  }

  template <class F>
  void with_user(F f) {
    auto auth = authenticate_user(req_, ctx_.config.jwt_secret);
    if (!auth.claims)
      return done_(error_reply(401, "unauthorized", auth.error));
    f(auth.who());
  }

  template <class F>
  void with_admin(F f) {
    auto token = bearer_token(req_);
    if (token.empty() || !constant_time_equal(token, ctx_.config.admin_token))
      return done_(error_reply(401, "unauthorized", "admin token required"));
    f();
  }

  std::optional<channel_id> channel_segment() {
    auto ch = channel_id::parse(target_.segments[2]);
    if (!ch)
      done_(error_reply(400, "bad_request", "channel id must look like C1"));
    return ch;
  }

  void post_message(principal who) {
    auto ch = channel_segment();
    if (!ch)
      return;
    auto body = parse_body(req_);
    if (!body)
      return done_(error_reply(400, "bad_request", "body must be a JSON object"));
    // The field validators of the WebSocket frame, in its order: text, then client_msg_id.
    auto text = text_field(*body);
    if (auto err = std::get_if<frame_error>(&text))
      return done_(frame_error_reply(*err));
    auto cmid = client_msg_id_field(*body);
    if (auto err = std::get_if<frame_error>(&cmid))
      return done_(frame_error_reply(*err));
    send_request req{who,
                     *ch,
                     std::get<std::string>(std::move(cmid)),
                     std::get<std::string>(std::move(text)),
                     gateway_actor{},
                     0};
    auto done = done_;
    ask(ctx_, ctx_.node->channels->get(*ch), done_, user_error,
        [done](const send_reply& r) {
          done(rest_reply{200, json{{"client_msg_id", r.ack.client_msg_id},
                                    {"channel_id", r.ack.channel.str()},
                                    {"channel_seq", r.ack.seq},
                                    {"ts", r.ack.ts}}});
        },
        send_atom::value, req);
  }

  void get_messages(principal who) {
    auto ch = channel_segment();
    if (!ch)
      return;
    // The query parameters as JSON values, checked by the field validators of `backfill`.
    json params = json::object();
    for (auto key : {"after_seq", "limit"})
      if (target_.has(key))
        params[key] = query_value(target_.param(key));
    auto after_seq = after_seq_field(params);
    if (auto err = std::get_if<frame_error>(&after_seq))
      return done_(frame_error_reply(*err));
    auto limit = limit_field(params);
    if (auto err = std::get_if<frame_error>(&limit))
      return done_(frame_error_reply(*err));
    auto done = done_;
    ask(ctx_, ctx_.node->channels->get(*ch), done_, user_error,
        [done](const backfill_page& page) {
          json msgs = json::array();
          for (auto& m : page.messages)
            msgs.push_back(message_json(m));
          done(rest_reply{200, json{{"channel_id", page.channel.str()},
                                    {"messages", std::move(msgs)},
                                    {"has_more", page.has_more}}});
        },
        backfill_atom::value, who, std::get<uint64_t>(after_seq), std::get<uint32_t>(limit));
  }

  void get_presence(principal who) {
    auto ch = channel_segment();
    if (!ch)
      return;
    auto done = done_;
    auto id = *ch;
    ask(ctx_, ctx_.node->channels->get(id), done_, user_error,
        [done, id](const std::vector<presence_entry>& entries) {
          json users = json::array();
          for (auto& e : entries)
            users.push_back({{"user_id", e.user.str()}, {"status", to_string(e.status)}});
          done(rest_reply{200, json{{"channel_id", id.str()}, {"users", std::move(users)}}});
        },
        who_atom::value, who);
  }

  /// GET /v1/channels: the caller's channels in its token's workspace, DMs included, with
  /// names and latest seqs; a DM also lists its members (the page names it after the other).
  void list_channels(principal who) {
    auto done = done_;
    ask(ctx_, ctx_.node->store, done_, user_error,
        [done](const std::vector<storage::channel_summary>& list) {
          json channels = json::array();
          for (auto& c : list) {
            json entry{{"channel_id", c.id.str()}, {"name", c.name}, {"latest_seq", c.latest_seq}};
            if (c.is_dm) {
              json members = json::array();
              for (auto u : c.members)
                members.push_back(u.str());
              entry["members"] = std::move(members);
            }
            channels.push_back(std::move(entry));
          }
          done(rest_reply{200, json{{"channels", std::move(channels)}}});
        },
        list_channels_atom::value, who.workspace, who.user);
  }

  std::optional<std::vector<user_id>> user_list(const json& body, const char* field) {
    auto i = body.find(field);
    if (i == body.end() || !i->is_array())
      return std::nullopt;
    std::vector<user_id> users;
    for (auto& v : *i) {
      if (!v.is_string())
        return std::nullopt;
      auto u = user_id::parse(v.get<std::string>());
      if (!u)
        return std::nullopt;
      if (std::find(users.begin(), users.end(), *u) == users.end())
        users.push_back(*u);
    }
    return users;
  }

  void post_dm(principal who) {
    auto body = parse_body(req_);
    auto users = body ? user_list(*body, "user_ids") : std::nullopt;
    if (!users || (*body)["user_ids"].size() != 2)
      return done_(
        error_reply(400, "bad_request", "user_ids must be two user ids like [\"U1\",\"U2\"]"));
    if (users->size() != 2)
      return done_(error_reply(400, "bad_request", "a DM needs two different users"));
    auto a = (*users)[0];
    auto b = (*users)[1];
    if (who.user != a && who.user != b)
      return done_(error_reply(403, "not_in_channel", "the caller must be one of the pair"));
    auto done = done_;
    auto ws = who.workspace;
    auto& ctx = ctx_;
    ask(ctx_, ctx_.node->store, done_, admin_error,
        [done, a, b, &ctx](channel_id ch, bool created) {
          if (created) // the channel tells its members' connections (channel.joined)
            caf::anon_send(ctx.node->channels->get(ch), announce_atom::value,
                           std::vector<user_id>{a, b});
          done(rest_reply{200, json{{"channel_id", ch.str()}}});
        },
        dm_atom::value, ws, a, b);
  }

  void create_channel() {
    auto body = parse_body(req_);
    if (!body)
      return done_(error_reply(400, "bad_request", "body must be a JSON object"));
    auto wsv = body->find("workspace_id");
    auto ws = wsv != body->end() && wsv->is_string() ? workspace_id::parse(wsv->get<std::string>())
                                                      : std::nullopt;
    if (!ws)
      return done_(error_reply(400, "bad_request", "workspace_id must look like W1"));
    auto namev = body->find("name");
    if (namev == body->end() || !namev->is_string() || namev->get<std::string>().empty()
        || namev->get<std::string>().size() > 200)
      return done_(error_reply(400, "bad_request", "name must be a string of 1 to 200 bytes"));
    std::vector<user_id> members;
    if (body->contains("members")) {
      auto m = user_list(*body, "members");
      if (!m)
        return done_(error_reply(400, "bad_request", "members must be user ids like [\"U1\"]"));
      members = *m;
    }
    auto done = done_;
    auto& ctx = ctx_;
    auto w = *ws;
    ask(ctx_, ctx_.node->store, done_, admin_error,
        [done, members, &ctx](channel_id ch) {
          if (!members.empty()) // the channel tells its members' connections (channel.joined)
            caf::anon_send(ctx.node->channels->get(ch), announce_atom::value, members);
          done(rest_reply{201, json{{"channel_id", ch.str()}}});
        },
        create_atom::value, w, namev->get<std::string>(), members);
  }

  void add_members() {
    auto ch = channel_segment();
    if (!ch)
      return;
    auto body = parse_body(req_);
    auto users = body ? user_list(*body, "user_ids") : std::nullopt;
    if (!users)
      return done_(error_reply(400, "bad_request", "user_ids must be user ids like [\"U1\"]"));
    auto done = done_;
    auto id = *ch;
    ask(ctx_, ctx_.node->channels->get(id), done_, admin_error,
        [done, id](const std::vector<user_id>& added) {
          json list = json::array();
          for (auto u : added)
            list.push_back(u.str());
          done(rest_reply{200, json{{"channel_id", id.str()}, {"added", std::move(list)}}});
        },
        add_atom::value, *users);
  }

  void remove_member() {
    auto ch = channel_segment();
    if (!ch)
      return;
    auto user = user_id::parse(target_.segments[4]);
    if (!user)
      return done_(error_reply(400, "bad_request", "user id must look like U1"));
    auto done = done_;
    ask(ctx_, ctx_.node->channels->get(*ch), done_, admin_error,
        [done](bool removed) {
          if (removed)
            done(rest_reply{204, json{}});
          else
            done(error_reply(404, "not_found", "not a member of this channel"));
        },
        remove_atom::value, *user);
  }

  /// Dev mode only (--dev-login=true): mints a 12 h user token without any credential.
  void dev_token() {
    auto body = parse_body(req_);
    auto field = [&](const char* key) {
      auto i = body->find(key);
      return i != body->end() && i->is_string() ? i->get<std::string>() : std::string{};
    };
    auto user = body ? user_id::parse(field("user_id")) : std::nullopt;
    auto ws = body ? workspace_id::parse(field("workspace_id")) : std::nullopt;
    if (!user || !ws)
      return done_(
        error_reply(400, "bad_request", "user_id and workspace_id must look like U1 and W1"));
    jwt_claims claims{*user, *ws, now_us() / 1'000'000 + 12 * 3600};
    done_(rest_reply{200, json{{"token", jwt_sign(claims, ctx_.config.jwt_secret)}}});
  }

  /// GET /v1/admin/actors[?kind=channel][&limit=100][&offset=0]: live instrumented actors,
  /// ordered by actor id. Bounded work: one pass over the live-actor table.
  void list_actors() {
    actor_kind kind{};
    auto kind_text = target_.param("kind");
    if (!kind_text.empty() && !parse_actor_kind(kind_text, kind))
      return done_(error_reply(400, "bad_request",
                               "kind must be connection, channel, channel_stub, gateway, "
                               "presence, group_commit or storage_worker"));
    auto number = [&](const char* key, size_t fallback, size_t max) -> std::optional<size_t> {
      auto v = target_.param(key);
      if (v.empty())
        return fallback;
      if (v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      return std::min<size_t>(std::stoul(v), max);
    };
    auto limit = number("limit", 100, 1000);
    auto offset = number("offset", 0, std::numeric_limits<uint32_t>::max());
    if (!limit || !offset)
      return done_(
        error_reply(400, "bad_request", "limit and offset must be non-negative integers"));
    size_t total = 0;
    auto rows =
      ctx_.node->env.metrics->list(kind_text.empty() ? nullptr : &kind, *offset, *limit, total);
    auto actors = json::array();
    for (auto& r : rows)
      actors.push_back(json{{"kind", to_string(r.kind)},
                            {"id", r.id},
                            {"actor_id", r.actor},
                            {"node", ctx_.config.node_name},
                            {"mailbox_depth", r.mailbox},
                            {"processed", r.processed}});
    done_(rest_reply{200, json{{"node", ctx_.config.node_name},
                               {"total", total},
                               {"offset", *offset},
                               {"limit", *limit},
                               {"actors", std::move(actors)}}});
  }

  server_context& ctx_;
  const rest_api::request& req_;
  rest_api::callback done_;
  request_target target_;
};

} // namespace

void rest_api::handle(const request& req, callback done) {
  request_handler{ctx_, req, std::move(done)}.run();
}

} // namespace parley
