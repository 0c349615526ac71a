// The `parley` command-line tool: mint tokens, create channels, send and tail messages.
//
// Every failure prints one line "parley: ..." to stderr and exits non-zero (STYLE.md "Errors").

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocol/ids.hpp"
#include "protocol/jwt.hpp"
#include "tools/client/http_client.hpp"
#include "tools/client/url.hpp"
#include "tools/client/ws_client.hpp"
#include "tools/inspect.hpp"

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace pc = parley::client;

constexpr const char* default_node = "http://127.0.0.1:8080";

constexpr const char* usage_text = R"(usage: parley <command> [flags]

commands:
  token --user U7 --workspace W1 [--ttl 1h|30m|3600s] [--secret S]
      Mint a user JWT (secret defaults to $PARLEY_JWT_SECRET; ttl defaults to 1h).
  channel create [--node URL] --workspace W1 --name NAME [--members U1,U2] [--admin-token T]
      Create a channel; prints its id (admin token defaults to $PARLEY_ADMIN_TOKEN).
  channel add-members [--node URL] --channel C1 --users U3,U4 [--admin-token T]
      Add members to a channel.
  send [--node URL] --token JWT --channel C1 --text TEXT [--client-msg-id ID]
      Send one message over REST; prints "C1 seq N ts T".
  tail [--node URL] --token JWT --workspace W1 --channel C1 [--after-seq N] [--count N]
      Print messages of a channel (backfill after N, then live) as "[seq] user: text".
  inspect [--node URL ...] [--once] [--json] [--interval-ms 1000] [--admin-token T] [--cacert PATH]
      Live top-like view of nodes, busiest channels and actors (admin token defaults to
      $PARLEY_ADMIN_TOKEN and adds the deepest mailboxes); --once prints one snapshot.
  help
      Show this text.

--node defaults to http://127.0.0.1:8080; an https:// node's certificate is verified against
the system CAs, or against --cacert PATH (PEM, e.g. the node's self-signed dev certificate),
which every command taking --node accepts. Flags take "--flag value" or "--flag=value".
)";

/// A user-facing failure: printed as one line, exit status 1.
struct cli_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parsed "--flag value" pairs of one subcommand, checked against the flags it accepts.
class flags {
public:
  flags(const std::vector<std::string>& args, const std::string& command,
        const std::set<std::string>& allowed)
      : command_(command) {
    for (size_t i = 0; i < args.size(); ++i) {
      const auto& arg = args[i];
      if (arg.size() < 3 || arg.compare(0, 2, "--") != 0)
        throw cli_error("unexpected argument '" + arg + "' for '" + command + "' (see parley help)");
      std::string name = arg.substr(2);
      std::string value;
      auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else {
        if (i + 1 >= args.size())
          throw cli_error("flag --" + name + " needs a value");
        value = args[++i];
      }
      if (!allowed.count(name))
        throw cli_error("unknown flag --" + name + " for '" + command + "' (see parley help)");
      if (values_.count(name))
        throw cli_error("flag --" + name + " given twice");
      values_[name] = value;
    }
  }

  std::optional<std::string> get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end())
      return std::nullopt;
    return it->second;
  }

  std::string require(const std::string& name) const {
    auto v = get(name);
    if (!v || v->empty())
      throw cli_error("'" + command_ + "' needs --" + name);
    return *v;
  }

  std::string get_or(const std::string& name, const std::string& fallback) const {
    return get(name).value_or(fallback);
  }

private:
  std::string command_;
  std::map<std::string, std::string> values_;
};

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

template <class Id>
std::string require_id(const std::string& text, const char* what) {
  if (!Id::parse(text))
    throw cli_error("bad " + std::string(what) + " id '" + text + "' (expected " +
                    std::string(1, Id::prefix) + "<number>, e.g. " +
                    std::string(1, Id::prefix) + "1)");
  return text;
}

std::vector<std::string> split_users(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty())
      continue;
    out.push_back(require_id<parley::user_id>(item, "user"));
  }
  return out;
}

uint64_t parse_count(const std::string& text, const char* flag) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw cli_error("bad --" + std::string(flag) + " '" + text + "' (expected a non-negative integer)");
  return std::stoull(text);
}

/// Parses a ttl such as "1h", "30m", "3600s" or "3600" into seconds.
int64_t parse_ttl(const std::string& text) {
  if (text.empty())
    throw cli_error("bad --ttl ''");
  int64_t unit = 1;
  std::string digits = text;
  switch (text.back()) {
    case 's': unit = 1; digits.pop_back(); break;
    case 'm': unit = 60; digits.pop_back(); break;
    case 'h': unit = 3600; digits.pop_back(); break;
    case 'd': unit = 86400; digits.pop_back(); break;
    default: break;
  }
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    throw cli_error("bad --ttl '" + text + "' (expected e.g. 1h, 30m, 3600s)");
  int64_t n = std::stoll(digits) * unit;
  if (n <= 0)
    throw cli_error("bad --ttl '" + text + "' (must be positive)");
  return n;
}

/// The node a command talks to: its URL and, for https://, whom to trust.
struct node_target {
  std::string url;
  pc::tls_options tls;
};

node_target node_url(const flags& f) {
  node_target node{f.get_or("node", default_node), {f.get_or("cacert", "")}};
  try {
    parley::client::parse_base_url(node.url);
  } catch (const std::invalid_argument& e) {
    throw cli_error(e.what());
  }
  return node;
}

/// A transport failure, with a hint when the node's certificate was not trusted.
cli_error transport_failure(const std::exception& e) {
  std::string what = e.what();
  if (what.find("certificate verify failed") != std::string::npos)
    what += " (pass --cacert with the node's certificate or CA)";
  return cli_error(what);
}

/// Describes a non-success HTTP reply in one line, with the server's {code, message} if any.
std::string describe_http_error(const pc::http_response& res) {
  std::string line = "server answered HTTP " + std::to_string(res.status);
  try {
    auto body = json::parse(res.body);
    if (body.is_object() && body.contains("code")) {
      line += ": " + body["code"].get<std::string>();
      if (body.contains("message") && body["message"].is_string())
        line += " (" + body["message"].get<std::string>() + ")";
      return line;
    }
  } catch (const std::exception&) {
    // Not our JSON error shape; fall back to the raw body.
  }
  std::string raw = res.body.substr(0, 200);
  for (auto& c : raw)
    if (c == '\n' || c == '\r')
      c = ' ';
  if (!raw.empty())
    line += ": " + raw;
  return line;
}

json call(const node_target& node, const std::string& method, const std::string& target,
          const json& body, const std::string& bearer) {
  pc::http_response res;
  try {
    res = pc::http_request(node.url, method, target, body.is_null() ? "" : body.dump(), bearer,
                           10s, node.tls);
  } catch (const pc::transport_error& e) {
    throw transport_failure(e);
  } catch (const std::invalid_argument& e) {
    throw cli_error(e.what());
  }
  if (res.status < 200 || res.status >= 300)
    throw cli_error(describe_http_error(res));
  if (res.body.empty())
    return json::object();
  try {
    return json::parse(res.body);
  } catch (const json::parse_error&) {
    throw cli_error("server sent a reply that is not JSON: " + res.body.substr(0, 200));
  }
}

std::string admin_token(const flags& f) {
  auto token = f.get_or("admin-token", env_or_empty("PARLEY_ADMIN_TOKEN"));
  if (token.empty())
    throw cli_error("no admin token: pass --admin-token or set PARLEY_ADMIN_TOKEN");
  return token;
}

std::string random_client_msg_id() {
  std::random_device rd;
  std::mt19937_64 gen(rd());
  std::ostringstream out;
  out << "cli-" << std::hex << gen() << gen();
  return out.str();
}

int cmd_token(const std::vector<std::string>& args) {
  flags f(args, "token", {"user", "workspace", "ttl", "secret"});
  parley::jwt_claims claims;
  claims.user = *parley::user_id::parse(require_id<parley::user_id>(f.require("user"), "user"));
  claims.workspace = *parley::workspace_id::parse(
      require_id<parley::workspace_id>(f.require("workspace"), "workspace"));
  auto ttl = parse_ttl(f.get_or("ttl", "1h"));
  auto secret = f.get_or("secret", env_or_empty("PARLEY_JWT_SECRET"));
  if (secret.empty())
    throw cli_error("no secret: pass --secret or set PARLEY_JWT_SECRET");
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  claims.exp = now + ttl;
  std::cout << parley::jwt_sign(claims, secret) << "\n";
  return 0;
}

int cmd_channel_create(const std::vector<std::string>& args) {
  flags f(args, "channel create", {"node", "cacert", "workspace", "name", "members", "admin-token"});
  auto node = node_url(f);
  auto workspace = require_id<parley::workspace_id>(f.require("workspace"), "workspace");
  auto name = f.require("name");
  auto members = split_users(f.get_or("members", ""));
  auto token = admin_token(f);
  json body = {{"workspace_id", workspace}, {"name", name}, {"members", members}};
  auto reply = call(node, "POST", "/v1/channels", body, token);
  if (!reply.contains("channel_id") || !reply["channel_id"].is_string())
    throw cli_error("server reply has no channel_id: " + reply.dump());
  std::cout << reply["channel_id"].get<std::string>() << "\n";
  return 0;
}

int cmd_channel_add_members(const std::vector<std::string>& args) {
  flags f(args, "channel add-members", {"node", "cacert", "channel", "users", "admin-token"});
  auto node = node_url(f);
  auto channel = require_id<parley::channel_id>(f.require("channel"), "channel");
  auto users = split_users(f.require("users"));
  if (users.empty())
    throw cli_error("'channel add-members' needs at least one user in --users");
  auto token = admin_token(f);
  call(node, "POST", "/v1/channels/" + channel + "/members", json{{"user_ids", users}}, token);
  return 0;
}

int cmd_send(const std::vector<std::string>& args) {
  flags f(args, "send", {"node", "cacert", "token", "channel", "text", "client-msg-id"});
  auto node = node_url(f);
  auto token = f.require("token");
  auto channel = require_id<parley::channel_id>(f.require("channel"), "channel");
  auto text = f.get("text");
  if (!text)
    throw cli_error("'send' needs --text");
  auto id = f.get_or("client-msg-id", random_client_msg_id());
  auto reply = call(node, "POST", "/v1/channels/" + channel + "/messages",
                    json{{"text", *text}, {"client_msg_id", id}}, token);
  try {
    std::cout << reply.at("channel_id").get<std::string>() << " seq "
              << reply.at("channel_seq").get<uint64_t>() << " ts "
              << reply.at("ts").get<int64_t>() << "\n";
  } catch (const json::exception&) {
    throw cli_error("unexpected reply from server: " + reply.dump());
  }
  return 0;
}

void print_message(const json& m) {
  std::cout << "[" << m.value("channel_seq", uint64_t{0}) << "] " << m.value("user_id", "?")
            << ": " << m.value("text", "") << std::endl;
}

int cmd_tail(const std::vector<std::string>& args) {
  flags f(args, "tail", {"node", "cacert", "token", "workspace", "channel", "after-seq", "count"});
  auto node = node_url(f);
  auto token = f.require("token");
  auto workspace = require_id<parley::workspace_id>(f.require("workspace"), "workspace");
  auto channel = require_id<parley::channel_id>(f.require("channel"), "channel");
  uint64_t after = parse_count(f.get_or("after-seq", "0"), "after-seq");
  std::optional<uint64_t> count;
  if (auto c = f.get("count"))
    count = parse_count(*c, "count");
  if (count && *count == 0)
    return 0;

  pc::ws_client ws{node.tls};
  // JWTs are base64url and ids are alphanumeric, so the query needs no escaping.
  pc::upgrade_result up;
  try {
    up = ws.connect(node.url, "/v1/ws?token=" + token + "&workspace_id=" + workspace);
  } catch (const pc::transport_error& e) {
    throw transport_failure(e);
  } catch (const std::invalid_argument& e) {
    throw cli_error(e.what());
  }
  if (!up.upgraded())
    throw cli_error("WebSocket upgrade refused: " +
                    describe_http_error(pc::http_response{up.status, up.body, up.headers}));
  ws.send_json({{"type", "hello"}, {"last_seq_map", {{channel, after}}}});

  uint64_t printed = after; // highest seq printed; prints stay in seq order without repeats
  uint64_t shown = 0;
  bool backfilling = false; // a backfill page chain is in flight; hold live frames until done
  std::vector<json> held;
  auto show = [&](const json& m) {
    auto seq = m.value("channel_seq", uint64_t{0});
    if (seq <= printed)
      return false;
    print_message(m);
    printed = seq;
    ++shown;
    return count && shown >= *count;
  };

  auto next_ping = std::chrono::steady_clock::now() + 15s;
  for (;;) {
    auto now = std::chrono::steady_clock::now();
    if (now >= next_ping) {
      ws.send_json({{"type", "ping"},
                    {"ts", std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count()}});
      next_ping = now + 15s;
    }
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_ping - now);
    auto text = ws.read_text(wait);
    if (!text) {
      if (ws.closed())
        throw cli_error("connection closed by server" +
                        (ws.close_code() ? " with code " + std::to_string(*ws.close_code()) +
                                               (ws.close_reason().empty()
                                                    ? std::string()
                                                    : " (" + ws.close_reason() + ")")
                                         : ": " + ws.failure()));
      continue;
    }
    json frame;
    try {
      frame = json::parse(*text);
    } catch (const json::parse_error&) {
      throw cli_error("server sent a frame that is not JSON: " + text->substr(0, 200));
    }
    auto type = frame.value("type", "");
    if (type == "hello_ack") {
      auto channels = frame.value("channels", json::object());
      if (!channels.contains(channel))
        throw cli_error(frame.value("user_id", "this user") + " is not a member of " + channel);
      backfilling = channels[channel].is_number_unsigned() &&
                    channels[channel].get<uint64_t>() > after;
    } else if (type == "message.backfill" && frame.value("channel_id", "") == channel) {
      for (const auto& m : frame.value("messages", json::array()))
        if (show(m))
          return 0;
      if (frame.value("has_more", false)) {
        ws.send_json({{"type", "backfill"}, {"channel_id", channel}, {"after_seq", printed},
                      {"limit", 100}});
      } else {
        backfilling = false;
        for (const auto& m : held)
          if (show(m))
            return 0;
        held.clear();
      }
    } else if (type == "message.new" && frame.value("channel_id", "") == channel) {
      if (backfilling)
        held.push_back(frame);
      else if (frame.value("channel_seq", uint64_t{0}) > printed + 1 && printed >= after) {
        // A gap (slow consumer or cursor): fetch what was missed, then continue live.
        held.push_back(frame);
        backfilling = true;
        ws.send_json({{"type", "backfill"}, {"channel_id", channel}, {"after_seq", printed},
                      {"limit", 100}});
      } else if (show(frame)) {
        return 0;
      }
    } else if (type == "channel.cursor" && frame.value("channel_id", "") == channel) {
      if (!backfilling && frame.value("latest_seq", uint64_t{0}) > printed) {
        backfilling = true;
        ws.send_json({{"type", "backfill"}, {"channel_id", channel}, {"after_seq", printed},
                      {"limit", 100}});
      }
    } else if (type == "channel.left" && frame.value("channel_id", "") == channel) {
      throw cli_error("removed from " + channel);
    } else if (type == "error") {
      throw cli_error("server error: " + frame.value("code", "?") + " (" +
                      frame.value("message", "") + ")");
    }
  }
}

int run(const std::vector<std::string>& args) {
  if (args.empty())
    throw cli_error("missing command (see parley help)");
  const auto& cmd = args[0];
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << usage_text;
    return 0;
  }
  for (const auto& a : rest)
    if (a == "--help" || a == "-h") {
      std::cout << usage_text;
      return 0;
    }
  if (cmd == "token")
    return cmd_token(rest);
  if (cmd == "send")
    return cmd_send(rest);
  if (cmd == "tail")
    return cmd_tail(rest);
  if (cmd == "inspect")
    return parley::tools::run_inspect(rest);
  if (cmd == "channel") {
    if (rest.empty())
      throw cli_error("'channel' needs a subcommand: create or add-members");
    std::vector<std::string> sub(rest.begin() + 1, rest.end());
    if (rest[0] == "create")
      return cmd_channel_create(sub);
    if (rest[0] == "add-members")
      return cmd_channel_add_members(sub);
    throw cli_error("unknown channel subcommand '" + rest[0] + "' (expected create or add-members)");
  }
  throw cli_error("unknown command '" + cmd + "' (see parley help)");
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "parley: " << e.what() << std::endl;
    return 1;
  }
}
