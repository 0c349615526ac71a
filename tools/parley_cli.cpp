// The `parley` command-line tool: mint tokens, create channels, send and tail messages.
//
// Every failure prints one line "parley: ..." to stderr and exits non-zero (STYLE.md "Errors").

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
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
namespace po = boost::program_options;

/// A user-facing failure: printed as one line, exit status 1.
struct cli_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Flag values with a checked form. po reads each through its validate() overload below (found
// by argument-dependent lookup), so a bad value is refused where its flag is declared.

/// An id flag: --user U7, --workspace W1, --channel C1.
template <class Id>
struct id_flag {
  Id id;
};
using user_flag = id_flag<parley::user_id>;
using workspace_flag = id_flag<parley::workspace_id>;
using channel_flag = id_flag<parley::channel_id>;
/// A comma-separated list of user ids: --members U1,U2.
struct user_list {
  std::vector<std::string> ids;
};
/// A non-negative integer: --after-seq, --count.
struct count_flag {
  uint64_t n = 0;
};
/// A lifetime given as 1h, 30m, 3600s, 2d or 3600 (seconds).
struct ttl_flag {
  int64_t seconds = 0;
};
/// Text that must not be empty: --token, --name.
struct nonempty {
  std::string text;
};

/// A bad flag value; po puts in the flag's name as the error passes through po::store.
po::error_with_option_name bad_value(const std::string& value, const std::string& expected) {
  po::error_with_option_name e("bad %canonical_option% '%value%' (" + expected + ")");
  e.set_substitute("value", value);
  return e;
}

const std::string& single_value(const boost::any& out, const std::vector<std::string>& in) {
  po::validators::check_first_occurrence(out); // a flag given twice is refused
  return po::validators::get_single_string(in);
}

template <class Id>
void validate(boost::any& out, const std::vector<std::string>& in, id_flag<Id>*, int) {
  auto& text = single_value(out, in);
  auto id = Id::parse(text);
  if (!id)
    throw bad_value(text, std::string("expected ") + Id::prefix + "<number>, e.g. " + Id::prefix
                            + "1");
  out = id_flag<Id>{*id};
}

void validate(boost::any& out, const std::vector<std::string>& in, user_list*, int) {
  auto& text = single_value(out, in);
  user_list list;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.empty())
      continue;
    if (!parley::user_id::parse(item))
      throw bad_value(text, "expected user ids like U1,U2");
    list.ids.push_back(item);
  }
  out = list;
}

void validate(boost::any& out, const std::vector<std::string>& in, count_flag*, int) {
  auto& text = single_value(out, in);
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw bad_value(text, "expected a non-negative integer");
  out = count_flag{std::stoull(text)};
}

void validate(boost::any& out, const std::vector<std::string>& in, ttl_flag*, int) {
  auto& text = single_value(out, in);
  const std::map<char, int64_t> units = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  auto digits = text;
  int64_t unit = 1;
  if (!text.empty() && units.count(text.back())) {
    unit = units.at(text.back());
    digits.pop_back();
  }
  if (digits.empty() || digits.size() > 9
      || digits.find_first_not_of("0123456789") != std::string::npos)
    throw bad_value(text, "expected e.g. 1h, 30m, 3600s");
  if (std::stoll(digits) == 0)
    throw bad_value(text, "must be positive");
  out = ttl_flag{std::stoll(digits) * unit};
}

void validate(boost::any& out, const std::vector<std::string>& in, nonempty*, int) {
  auto& text = single_value(out, in);
  if (text.empty())
    throw bad_value(text, "must not be empty");
  out = nonempty{text};
}

template <class T>
po::typed_value<T>* arg(const char* name) {
  return po::value<T>()->value_name(name);
}

/// One subcommand: its words, a one-line summary and its flags (parsing and `parley help` both
/// read them). Every command but token also takes the node flags.
struct command {
  std::string name;
  std::string summary;
  po::options_description flags{100};
  int (*run)(const po::variables_map&) = nullptr; // null: inspect parses its own flags
};

po::options_description node_flags() {
  po::options_description flags(100);
  flags.add_options()
    ("node", arg<std::string>("URL")->default_value("http://127.0.0.1:8080"),
     "the node's base URL, http:// or https://")
    ("cacert", arg<std::string>("PATH"), "PEM certificate or CA to trust for an https:// node "
     "(e.g. its self-signed dev certificate), instead of the system CAs");
  return flags;
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// The node a command talks to: its URL and, for https://, whom to trust.
struct node_target {
  std::string url;
  pc::tls_options tls;
};

node_target node_url(const po::variables_map& vm) {
  node_target node{vm["node"].as<std::string>(),
                   {vm.count("cacert") ? vm["cacert"].as<std::string>() : ""}};
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

std::string admin_token(const po::variables_map& vm) {
  auto token = vm.count("admin-token") ? vm["admin-token"].as<std::string>()
                                       : env_or_empty("PARLEY_ADMIN_TOKEN");
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

int cmd_token(const po::variables_map& vm) {
  parley::jwt_claims claims;
  claims.user = vm["user"].as<user_flag>().id;
  claims.workspace = vm["workspace"].as<workspace_flag>().id;
  auto ttl = vm["ttl"].as<ttl_flag>().seconds;
  auto secret = vm.count("secret") ? vm["secret"].as<std::string>()
                                   : env_or_empty("PARLEY_JWT_SECRET");
  if (secret.empty())
    throw cli_error("no secret: pass --secret or set PARLEY_JWT_SECRET");
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  claims.exp = now + ttl;
  std::cout << parley::jwt_sign(claims, secret) << "\n";
  return 0;
}

int cmd_channel_create(const po::variables_map& vm) {
  auto node = node_url(vm);
  auto workspace = vm["workspace"].as<workspace_flag>().id.str();
  auto name = vm["name"].as<nonempty>().text;
  std::vector<std::string> members;
  if (vm.count("members"))
    members = vm["members"].as<user_list>().ids;
  auto token = admin_token(vm);
  json body = {{"workspace_id", workspace}, {"name", name}, {"members", members}};
  auto reply = call(node, "POST", "/v1/channels", body, token);
  if (!reply.contains("channel_id") || !reply["channel_id"].is_string())
    throw cli_error("server reply has no channel_id: " + reply.dump());
  std::cout << reply["channel_id"].get<std::string>() << "\n";
  return 0;
}

int cmd_channel_add_members(const po::variables_map& vm) {
  auto node = node_url(vm);
  auto channel = vm["channel"].as<channel_flag>().id.str();
  auto users = vm["users"].as<user_list>().ids;
  if (users.empty())
    throw cli_error("'channel add-members' needs at least one user in --users");
  auto token = admin_token(vm);
  call(node, "POST", "/v1/channels/" + channel + "/members", json{{"user_ids", users}}, token);
  return 0;
}

int cmd_send(const po::variables_map& vm) {
  auto node = node_url(vm);
  auto token = vm["token"].as<nonempty>().text;
  auto channel = vm["channel"].as<channel_flag>().id.str();
  auto text = vm["text"].as<std::string>();
  auto id = vm.count("client-msg-id") ? vm["client-msg-id"].as<std::string>()
                                      : random_client_msg_id();
  auto reply = call(node, "POST", "/v1/channels/" + channel + "/messages",
                    json{{"text", text}, {"client_msg_id", id}}, token);
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

int cmd_tail(const po::variables_map& vm) {
  auto node = node_url(vm);
  auto token = vm["token"].as<nonempty>().text;
  auto workspace = vm["workspace"].as<workspace_flag>().id.str();
  auto channel = vm["channel"].as<channel_flag>().id.str();
  uint64_t after = vm["after-seq"].as<count_flag>().n;
  std::optional<uint64_t> count;
  if (vm.count("count"))
    count = vm["count"].as<count_flag>().n;
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

/// Every command and its flags, in the order `parley help` lists them.
std::vector<command> commands() {
  std::vector<command> all;
  all.reserve(7);
  auto add = [&](std::string name, std::string summary, int (*run)(const po::variables_map&)) {
    all.push_back({std::move(name), std::move(summary), po::options_description(100), run});
    return all.back().flags.add_options();
  };
  add("token", "Mint a user JWT and print it.", cmd_token)
    ("user", arg<user_flag>("U7")->required(), "the user")
    ("workspace", arg<workspace_flag>("W1")->required(), "the workspace")
    ("ttl", arg<ttl_flag>("TTL")->default_value(ttl_flag{3600}, "1h"),
     "lifetime: 1h, 30m, 3600s, 2d or seconds")
    ("secret", arg<std::string>("S"), "the signing secret (default $PARLEY_JWT_SECRET)");
  add("channel create", "Create a channel and print its id.", cmd_channel_create)
    ("workspace", arg<workspace_flag>("W1")->required(), "the workspace")
    ("name", arg<nonempty>("NAME")->required(), "the channel's name")
    ("members", arg<user_list>("U1,U2"), "its first members")
    ("admin-token", arg<std::string>("T"), "default $PARLEY_ADMIN_TOKEN");
  add("channel add-members", "Add members to a channel.", cmd_channel_add_members)
    ("channel", arg<channel_flag>("C1")->required(), "the channel")
    ("users", arg<user_list>("U3,U4")->required(), "the users to add")
    ("admin-token", arg<std::string>("T"), "default $PARLEY_ADMIN_TOKEN");
  add("send", "Send one message over REST; print \"C1 seq N ts T\".", cmd_send)
    ("token", arg<nonempty>("JWT")->required(), "the sender's JWT (from parley token)")
    ("channel", arg<channel_flag>("C1")->required(), "the channel")
    ("text", arg<std::string>("TEXT")->required(), "the message")
    ("client-msg-id", arg<std::string>("ID"), "idempotency key (default: a random one)");
  add("tail", "Print a channel's messages as \"[seq] user: text\": backfill, then live.", cmd_tail)
    ("token", arg<nonempty>("JWT")->required(), "a member's token")
    ("workspace", arg<workspace_flag>("W1")->required(), "the channel's workspace")
    ("channel", arg<channel_flag>("C1")->required(), "the channel")
    ("after-seq", arg<count_flag>("N")->default_value(count_flag{0}, "0"),
     "start after this seq")
    ("count", arg<count_flag>("N"), "exit after printing N messages");
  // tools/inspect.cpp parses these flags itself; they are declared here for `parley help`.
  add("inspect", "A live top-like view of nodes, busiest channels and actors.", nullptr)
    ("node", arg<std::string>("URL"), "a node to scrape; repeatable (default "
     "http://127.0.0.1:8080)")
    ("once", "print one snapshot and exit (non-zero if a node is down)")
    ("json", "print JSON instead of the table")
    ("interval-ms", arg<int>("MS"), "refresh interval, at least 100 (1000)")
    ("admin-token", arg<std::string>("T"), "adds the deepest mailboxes (default "
     "$PARLEY_ADMIN_TOKEN)")
    ("cacert", arg<std::string>("PATH"), "PEM certificate or CA to trust for https:// nodes");
  return all;
}

std::string usage_text() {
  auto all = commands();
  auto node = node_flags();
  unsigned width = node.get_option_column_width();
  for (auto& c : all)
    width = std::max(width, c.flags.get_option_column_width());
  std::ostringstream out;
  out << "usage: parley <command> [flags]   (flags take \"--flag value\" or \"--flag=value\")\n";
  for (auto& c : all) {
    // The synopsis: required flags bare, the others in brackets.
    out << "\nparley " << c.name;
    for (auto& d : c.flags.options()) {
      auto flag = d->format_name();
      if (d->semantic()->max_tokens() > 0) {
        auto value = d->format_parameter();
        flag += " " + value.substr(0, value.find(" (=")); // without po's "(=default)"
      }
      out << (d->semantic()->is_required() ? " " + flag : " [" + flag + "]");
    }
    out << "\n  " << c.summary << "\n";
    c.flags.print(out, width + 1);
  }
  out << "\nparley help\n  Show this text.\n\nEvery command but token and inspect also takes:\n";
  node.print(out, width + 1);
  return out.str();
}

/// The flags of `cmd` from `args`; a mistake is one line naming the flag.
po::variables_map parse_flags(const command& cmd, const std::vector<std::string>& args) {
  po::options_description flags(100);
  flags.add(cmd.flags);
  if (cmd.name != "token")
    flags.add(node_flags());
  po::variables_map vm;
  try {
    // No abbreviations: --chan must not quietly mean --channel.
    auto parsed = po::command_line_parser(args)
                    .options(flags)
                    .style(po::command_line_style::unix_style
                           & ~po::command_line_style::allow_guessing)
                    .run();
    for (auto& o : parsed.options)
      if (o.string_key.empty())
        throw cli_error("unexpected argument '" + o.value.at(0) + "' for '" + cmd.name
                        + "' (see parley help)");
    po::store(parsed, vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    auto flag = e.get_option_name();
    throw cli_error("unknown flag " + flag.substr(0, flag.find('=')) + " for '" + cmd.name
                    + "' (see parley help)");
  } catch (const po::required_option& e) {
    throw cli_error("'" + cmd.name + "' needs " + e.get_option_name());
  } catch (const po::error& e) {
    throw cli_error(e.what());
  }
  return vm;
}

int run(const std::vector<std::string>& args) {
  if (args.empty())
    throw cli_error("missing command (see parley help)");
  bool help = args[0] == "help";
  for (const auto& a : args)
    help = help || a == "--help" || a == "-h";
  if (help) {
    std::cout << usage_text();
    return 0;
  }
  // "channel create" and "channel add-members" are two words.
  size_t words = args[0] == "channel" ? 2 : 1;
  if (args.size() < words)
    throw cli_error("'channel' needs a subcommand: create or add-members");
  std::string name = words == 2 ? "channel " + args[1] : args[0];
  std::vector<std::string> rest(args.begin() + words, args.end());
  for (auto& c : commands())
    if (c.name == name)
      return c.run ? c.run(parse_flags(c, rest)) : parley::tools::run_inspect(rest);
  if (words == 2)
    throw cli_error("unknown channel subcommand '" + args[1]
                    + "' (expected create or add-members)");
  throw cli_error("unknown command '" + name + "' (see parley help)");
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
