#include "tools/bench/options.hpp"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <type_traits>

#include <boost/program_options.hpp>

namespace parley::bench {

namespace {

namespace po = boost::program_options;

double to_number(const std::string& flag, const std::string& v, double min) {
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used == v.size() && d >= min)
      return d;
  } catch (...) {
  }
  std::ostringstream at_least;
  at_least << min; // 1, 0.1: not std::to_string's 1.000000
  throw usage_error(flag + " needs a number >= " + at_least.str() + ", got '" + v + "'");
}

size_t to_count(const std::string& flag, const std::string& v, size_t min = 0) {
  double d = to_number(flag, v, static_cast<double>(min));
  if (d != static_cast<double>(static_cast<size_t>(d)))
    throw usage_error(flag + " needs an integer, got '" + v + "'");
  return static_cast<size_t>(d);
}

bool is_loopback_v4(const std::string& host) {
  unsigned a, b, c, d;
  char tail;
  if (std::sscanf(host.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4)
    return false;
  return a == 127 && b < 256 && c < 256 && d < 256;
}

// The bench only ever loads a node on this machine: it opens thousands of sockets at a
// configured rate, which is not something to point at a shared server by mistake.
node_address parse_node(const std::string& url) {
  const std::string prefix = "http://";
  if (url.compare(0, prefix.size(), prefix) != 0)
    throw usage_error("--node must look like http://127.0.0.1:8080");
  std::string rest = url.substr(prefix.size());
  if (!rest.empty() && rest.back() == '/')
    rest.pop_back();
  std::string host = rest, port = "80";
  if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host == "localhost")
    host = "127.0.0.1";
  if (!is_loopback_v4(host))
    throw usage_error("--node host must be localhost or in 127.0.0.0/8 (loopback only), got '"
                      + host + "'");
  auto p = to_count("--node port", port, 1);
  if (p > 65535)
    throw usage_error("--node port must be 1 ... 65535");
  return node_address{url, host, static_cast<uint16_t>(p)};
}

/// Every flag by group: its value, one-line description and the notifier that checks the value
/// and stores it in `o`. `flag` is the flag being applied (--node), so each message names it.
po::options_description describe(options& o, bool& channels_set, const std::string& flag) {
  using text = const std::string&;
  auto value = [](const char* name, std::function<void(text)> set) {
    return po::value<std::string>()->value_name(name)->notifier(std::move(set));
  };
  auto str = [&](const char* name, std::string& field) {
    return value(name, [&field](text v) { field = v; });
  };
  auto number = [&](const char* name, double& field, double min) {
    return value(name, [&, min](text v) { field = to_number(flag, v, min); });
  };
  auto count = [&](const char* name, auto& field, size_t min) {
    return value(name, [&, min](text v) {
      field = static_cast<std::remove_reference_t<decltype(field)>>(to_count(flag, v, min));
    });
  };

  po::options_description common("Common flags", 100);
  common.add_options()
    ("node", value("URL", [&](text v) { o.nodes.push_back(parse_node(v)); }),
     "http://127.0.0.1:8080 (loopback only); repeatable: clients go round robin over the nodes "
     "(members of one channel on every node), admin calls go to the first")
    ("target", value("T", [&](text v) {
       if (v != "parley" && v != "socketio" && v != "ws")
         throw usage_error("--target must be parley, socketio or ws, got '" + v + "'");
       o.target = v;
     }), "parley (default) | socketio | ws: the peer servers of bench/peers (start them with "
     "bench/peers/start.sh)")
    ("per-worker", count("N", o.per_worker, 1), "clients per process (16000); more clients "
     "fork workers that each own a slice (one process may hold 20,000 fds here)")
    ("admin-token", str("T", o.admin_token), "admin token (default $PARLEY_ADMIN_TOKEN)")
    ("secret", str("S", o.secret), "JWT secret (default $PARLEY_JWT_SECRET)")
    ("workspace", str("W", o.workspace), "workspace of the channels (W1)")
    ("node-pid", value("PID", [&](text v) {
       o.node_pids.push_back(static_cast<int>(to_count(flag, v, 1)));
     }), "repeatable: node CPU and RSS from /proc, summed over all pids")
    ("json", str("FILE", o.json_path), "also write the results as JSON")
    ("connect-rate", number("R", o.connect_rate, 1), "new connections per second (500)")
    ("max-pending", count("N", o.max_pending, 1), "connections in flight at once (256)")
    ("connect-timeout", number("S", o.connect_timeout_s, 0.1),
     "seconds per connection, TCP connect to hello_ack (15)")
    ("source-ip", value("A", [&](text v) {
       if (!is_loopback_v4(v))
         throw usage_error("--source-ip must be in 127.0.0.0/8, got '" + v + "'");
       o.source_ips.push_back(v);
     }), "repeatable: bind client sockets to 127.0.0.x round robin")
    ("user-base", count("N", o.user_base, 1), "first user number (default: from the clock)")
    ("settle", number("S", o.settle_s, 0),
     "max seconds to wait for setup traffic (presence) to calm (30)")
    ("members", count("N", o.members, 1),
     "members per channel (throughput 10, fanout 1000, presence 10000)")
    ("channels", value("C", [&](text v) {
       o.channels = o.idle_channels = to_count(flag, v, 1);
       channels_set = true;
     }), "channels (throughput 10; idle: spread the connections over C)")
    ("text-bytes", count("B", o.text_bytes, 0), "pad message text to B bytes");

  po::options_description throughput("throughput flags", 100);
  throughput.add_options()
    ("senders", count("K", o.senders, 1), "members that send (default: one per channel)")
    ("duration", number("T", o.duration_s, 0.1), "seconds of sending (10)")
    ("rate", number("R", o.rate, 0), "msgs/s per sender (0: as fast as the window allows)")
    ("window", count("W", o.window, 1), "max unacked messages per sender (8)")
    ("drain", number("S", o.drain_s, 0), "seconds to wait for stragglers after sending (5); "
     "presence: after closing (2)");

  po::options_description fanout("fanout flags", 100);
  fanout.add_options()
    ("messages", count("M", o.messages, 1), "messages to send (20)")
    ("pause-ms", count("P", o.pause_ms, 0), "pause after each message reached everyone (200)")
    ("timeout-ms", count("X", o.timeout_ms, 1), "max wait for one message to reach everyone "
     "(10000)");

  po::options_description idle("idle flags", 100);
  idle.add_options()
    ("connections", count("N", o.connections, 1), "clients to connect (1000)")
    ("hold", number("S", o.hold_s, 0), "seconds to hold them (5); presence: between the "
     "members' connect phase and their close (2; >= 1.2 lets the node push both transitions "
     "of a user at once, it pushes one per user per second)");

  po::options_description presence("presence flags", 100);
  presence.add_options()
    ("watchers", value("F", [&](text v) {
       o.watchers = to_number(flag, v, 0);
       if (o.watchers > 1)
         throw usage_error(flag + " is a fraction of the members, 0 ... 1, got '" + v + "'");
     }), "fraction of the members that connect first and subscribe (0.05)")
    ("watch", value("K", [&](text v) {
       o.watch = to_count(flag, v, 1);
       if (o.watch > 500)
         throw usage_error(flag + " must be at most 500 (the node's presence.subscribe-max), got '"
                           + v + "'");
     }), "users each watcher subscribes to, in frames of at most 100 ids (100, at most 500)");

  po::options_description all(100);
  all.add(common).add(throughput).add(fanout).add(idle).add(presence);
  return all;
}

} // namespace

std::string usage_text() {
  options unused;
  bool channels_set = false;
  std::string flag;
  std::ostringstream out;
  out << "usage: parley-bench MODE [flags]   (flags take \"--flag value\" or \"--flag=value\")\n"
         "\n"
         "modes:\n"
         "  throughput  K senders (members of the C channels) send for T seconds; measures acked\n"
         "              msgs/s, deliveries/s, ack and delivery latency, misses, errors by code.\n"
         "  fanout      one channel of N members; each message is sent after the previous one\n"
         "              reached all N connections (or X ms passed) plus P ms.\n"
         "  idle        connects N clients, holds them S seconds, reports node RSS per\n"
         "              connection.\n"
         "  presence    one channel of N members (Parley only; above the node's\n"
         "              presence.push-max-members, so only subscriptions push presence): a\n"
         "              fraction F of them connect first and each subscribes to K others; then\n"
         "              the rest connect, are held S seconds and close. Counts the watchers'\n"
         "              presence.update frames against the expected ones (one per watcher of a\n"
         "              user per transition) and the node's CPU per transition.\n"
      << describe(unused, channels_set, flag)
      << "\n"
         "targets (latency = receive time - send time embedded in the payload, every target):\n"
         "  parley    JWT + hello; channels and members created over admin REST; one send is\n"
         "            routed to members on every node by the cluster.\n"
         "  socketio  Engine.IO v4 over a raw WebSocket (bench/peers/socketio-server.js):\n"
         "            emit join(room), emit send with an ack, members get event msg.\n"
         "  ws        JSON join/send/ack/msg frames (bench/peers/ws-server.js).\n"
         "            Peer processes share no rooms: with several --node, fanout's publisher\n"
         "            holds one connection per process and sends each message to every\n"
         "            process (recorded as \"publish\" in the JSON). throughput puts each room\n"
         "            (all its members and senders) on one peer process, round robin.\n"
         "\n"
         "workers: above --per-worker clients the tool forks ceil(N / per-worker) workers before\n"
         "  opening any socket; each connects its slice (--connect-rate and --max-pending are\n"
         "  shared out) and reports over a pipe; fanout's publisher stays in the parent and sends\n"
         "  message k+1 only after every worker saw message k everywhere (plus --pause-ms).\n"
         "  throughput splits by channel: each worker holds whole channels (members and their\n"
         "  senders, --senders shared out in proportion) and checks its own deliveries; the\n"
         "  parent creates the channels (one POST each, 4 keep-alive connections), starts every\n"
         "  worker's send window at one common time once all settled, and merges counts, latency\n"
         "  samples (exact percentiles) and errors; node CPU covers that common window.\n"
         "  Ephemeral ports: one source address reaches ~28K connections per node; past that,\n"
         "  clients bind 127.0.0.1, .2, ... round robin (or pass --source-ip), or widen\n"
         "  net.ipv4.ip_local_port_range.\n"
         "\n"
         "Examples:\n"
         "  parley-bench fanout --members 2000 --per-worker 1000 --node http://127.0.0.1:8080\n"
         "  parley-bench fanout --members 50000 --node URL1 --node URL2 --node URL3 \\\n"
         "    --node-pid P1 --node-pid P2 --node-pid P3 --connect-rate 2000\n"
         "  parley-bench fanout --target ws --members 2000 --node http://127.0.0.1:3101\n"
         "  parley-bench presence --members 10000 --watchers 0.05 --watch 100 --node URL \\\n"
         "    --node-pid P --connect-rate 2000\n"
         "\n"
         "Start the node for benchmarks with its rate limits lifted, e.g.:\n"
         "  PARLEY_JWT_SECRET=s PARLEY_ADMIN_TOKEN=a parleyd --data-dir /tmp/bench-data \\\n"
         "    --http-port 0 "
      << bench_node_flags << "\n";
  return out.str();
}

options parse_options(int argc, char** argv) {
  options o;
  if (const char* t = std::getenv("PARLEY_ADMIN_TOKEN"))
    o.admin_token = t;
  if (const char* s = std::getenv("PARLEY_JWT_SECRET"))
    o.secret = s;
  if (argc < 2)
    throw usage_error("missing MODE");
  std::vector<std::string> args(argv + 2, argv + argc);
  o.mode = argv[1];
  for (auto& a : args)
    if (a == "-h" || a == "--help")
      o.mode = "--help";
  if (o.mode == "-h" || o.mode == "--help")
    return o;
  if (o.mode != "throughput" && o.mode != "fanout" && o.mode != "idle" && o.mode != "presence")
    throw usage_error("unknown mode '" + o.mode + "'");

  bool channels_set = false;
  std::string flag; // the flag being applied, for the notifiers' messages
  auto flags = describe(o, channels_set, flag);
  std::vector<po::option> given;
  try {
    // No abbreviations: --conn must not quietly mean --connections.
    given = po::command_line_parser(args)
              .options(flags)
              .style(po::command_line_style::unix_style
                     & ~po::command_line_style::allow_guessing)
              .run()
              .options;
  } catch (const po::unknown_option& e) {
    auto name = e.get_option_name();
    throw usage_error("unknown flag '" + name.substr(0, name.find('=')) + "'");
  } catch (const po::error& e) {
    throw usage_error(e.what());
  }
  // In order, each through its flag's notifier: a later value replaces an earlier one and
  // repeatable flags add up (po::store would refuse a flag given twice).
  for (auto& opt : given) {
    if (opt.string_key.empty())
      throw usage_error("unexpected argument '" + opt.value.at(0) + "'");
    flag = "--" + opt.string_key;
    auto& semantic = *flags.find(opt.string_key, false).semantic();
    boost::any v;
    semantic.parse(v, opt.value, true);
    semantic.notify(v);
  }
  if (o.nodes.empty())
    o.nodes.push_back(parse_node(o.node));
  o.node = o.nodes.front().url;
  o.host = o.nodes.front().host;
  o.port = o.nodes.front().port;
  bool parley = o.target == "parley";
  if (parley && o.admin_token.empty())
    throw usage_error("no admin token: set PARLEY_ADMIN_TOKEN or pass --admin-token");
  if (parley && o.secret.empty())
    throw usage_error("no JWT secret: set PARLEY_JWT_SECRET or pass --secret");
  if (o.members == 0)
    o.members = o.mode == "fanout" ? 1000 : o.mode == "presence" ? 10000 : 10;
  if (o.hold_s < 0)
    o.hold_s = o.mode == "presence" ? 2 : 5;
  if (o.drain_s < 0)
    o.drain_s = o.mode == "presence" ? 2 : 5;
  if (o.mode == "presence" && !parley)
    throw usage_error("presence needs --target parley (the peers have no presence "
                      "subscriptions)");
  if (o.mode == "presence" && o.watchers > 0 && o.watch >= o.members)
    throw usage_error("--watch must be below --members (each watcher watches other members)");
  if (!channels_set)
    o.idle_channels = 0;
  if (o.senders == 0)
    o.senders = o.channels;
  if (o.mode == "throughput" && o.senders > o.channels * o.members)
    throw usage_error("--senders cannot exceed channels x members");
  return o;
}

size_t client_count(const options& o) {
  if (o.mode == "throughput")
    return o.channels * o.members;
  if (o.mode == "fanout" || o.mode == "presence")
    return o.members;
  return o.connections;
}

} // namespace parley::bench
