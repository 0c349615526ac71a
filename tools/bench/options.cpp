#include "tools/bench/options.hpp"

#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>

namespace parley::bench {

namespace {

double to_number(const std::string& flag, const std::string& v, double min) {
  try {
    size_t used = 0;
    double d = std::stod(v, &used);
    if (used == v.size() && d >= min)
      return d;
  } catch (...) {
  }
  throw usage_error(flag + " needs a number >= " + std::to_string(min) + ", got '" + v + "'");
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

} // namespace

std::string usage_text() {
  std::ostringstream out;
  out << "usage: parley-bench MODE [flags]\n"
         "\n"
         "modes:\n"
         "  throughput  --channels C --members S --senders K --duration T [--rate R] [--window W]\n"
         "              K senders (members of the C channels) send for T seconds; measures acked\n"
         "              msgs/s, deliveries/s, ack and delivery latency, misses, errors by code.\n"
         "  fanout      --members N --messages M [--pause-ms P] [--timeout-ms X]\n"
         "              one channel of N members; each message is sent after the previous one\n"
         "              reached all N connections (or X ms passed) plus P ms.\n"
         "  idle        --connections N [--channels C] [--hold S]\n"
         "              connects N clients, holds them S seconds, reports node RSS per connection.\n"
         "\n"
         "common flags:\n"
         "  --node URL            http://127.0.0.1:8080 (loopback only); repeatable: clients go\n"
         "                        round robin over the nodes (members of one channel on every\n"
         "                        node); admin calls go to the first\n"
         "  --target T            parley (default) | socketio | ws: the peer servers of\n"
         "                        bench/peers (start them with bench/peers/start.sh)\n"
         "  --per-worker N        clients per process (16000); more clients fork workers that\n"
         "                        each own a slice (one process may hold 20,000 fds here)\n"
         "  --admin-token T       or PARLEY_ADMIN_TOKEN\n"
         "  --secret S            JWT secret, or PARLEY_JWT_SECRET\n"
         "  --workspace W         W1\n"
         "  --node-pid PID        repeatable: node CPU and RSS from /proc, summed over all pids\n"
         "  --json FILE           also write the results as JSON\n"
         "  --connect-rate R      new connections per second (500)\n"
         "  --max-pending N       connections in flight at once (256)\n"
         "  --source-ip A         repeatable: bind client sockets to 127.0.0.x round robin\n"
         "  --user-base N         first user number (default: derived from the clock)\n"
         "  --text-bytes B        pad message text to B bytes\n"
         "  --drain S             throughput: seconds to wait for stragglers (5)\n"
         "  --settle S            max seconds to wait for setup traffic (presence) to calm (30)\n"
         "\n"
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
         "  senders, --senders shared out in proportion) and checks its own deliveries; the parent\n"
         "  creates the channels (one POST each, 4 keep-alive connections), starts every worker's\n"
         "  send window at one common time once all settled, and merges counts, latency samples\n"
         "  (exact percentiles) and errors; node CPU covers that common window.\n"
         "  Ephemeral ports: one source address reaches ~28K connections per node; past that,\n"
         "  clients bind 127.0.0.1, .2, ... round robin (or pass --source-ip), or widen\n"
         "  net.ipv4.ip_local_port_range.\n"
         "\n"
         "Examples:\n"
         "  parley-bench fanout --members 2000 --per-worker 1000 --node http://127.0.0.1:8080\n"
         "  parley-bench fanout --members 50000 --node URL1 --node URL2 --node URL3 \\\n"
         "    --node-pid P1 --node-pid P2 --node-pid P3 --connect-rate 2000\n"
         "  parley-bench fanout --target ws --members 2000 --node http://127.0.0.1:3101\n"
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
  o.mode = argv[1];
  if (o.mode == "-h" || o.mode == "--help")
    return o;
  if (o.mode != "throughput" && o.mode != "fanout" && o.mode != "idle")
    throw usage_error("unknown mode '" + o.mode + "'");

  using setter = std::function<void(const std::string&)>;
  bool channels_set = false;
  const std::map<std::string, setter> flags = {
    {"--node", [&](const std::string& v) { o.nodes.push_back(parse_node(v)); }},
    {"--target",
     [&](const std::string& v) {
       if (v != "parley" && v != "socketio" && v != "ws")
         throw usage_error("--target must be parley, socketio or ws, got '" + v + "'");
       o.target = v;
     }},
    {"--per-worker", [&](const std::string& v) { o.per_worker = to_count("--per-worker", v, 1); }},
    {"--admin-token", [&](const std::string& v) { o.admin_token = v; }},
    {"--secret", [&](const std::string& v) { o.secret = v; }},
    {"--workspace", [&](const std::string& v) { o.workspace = v; }},
    {"--json", [&](const std::string& v) { o.json_path = v; }},
    {"--node-pid",
     [&](const std::string& v) { o.node_pids.push_back(static_cast<int>(to_count("--node-pid", v, 1))); }},
    {"--source-ip",
     [&](const std::string& v) {
       if (!is_loopback_v4(v))
         throw usage_error("--source-ip must be in 127.0.0.0/8, got '" + v + "'");
       o.source_ips.push_back(v);
     }},
    {"--connect-rate", [&](const std::string& v) { o.connect_rate = to_number("--connect-rate", v, 1); }},
    {"--max-pending", [&](const std::string& v) { o.max_pending = to_count("--max-pending", v, 1); }},
    {"--connect-timeout",
     [&](const std::string& v) { o.connect_timeout_s = to_number("--connect-timeout", v, 0.1); }},
    {"--settle", [&](const std::string& v) { o.settle_s = to_number("--settle", v, 0); }},
    {"--user-base", [&](const std::string& v) { o.user_base = to_count("--user-base", v, 1); }},
    {"--channels",
     [&](const std::string& v) {
       o.channels = o.idle_channels = to_count("--channels", v, 1);
       channels_set = true;
     }},
    {"--members", [&](const std::string& v) { o.members = to_count("--members", v, 1); }},
    {"--senders", [&](const std::string& v) { o.senders = to_count("--senders", v, 1); }},
    {"--duration", [&](const std::string& v) { o.duration_s = to_number("--duration", v, 0.1); }},
    {"--rate", [&](const std::string& v) { o.rate = to_number("--rate", v, 0); }},
    {"--window", [&](const std::string& v) { o.window = to_count("--window", v, 1); }},
    {"--text-bytes", [&](const std::string& v) { o.text_bytes = to_count("--text-bytes", v, 0); }},
    {"--drain", [&](const std::string& v) { o.drain_s = to_number("--drain", v, 0); }},
    {"--messages", [&](const std::string& v) { o.messages = to_count("--messages", v, 1); }},
    {"--pause-ms", [&](const std::string& v) { o.pause_ms = static_cast<unsigned>(to_count("--pause-ms", v)); }},
    {"--timeout-ms",
     [&](const std::string& v) { o.timeout_ms = static_cast<unsigned>(to_count("--timeout-ms", v, 1)); }},
    {"--connections", [&](const std::string& v) { o.connections = to_count("--connections", v, 1); }},
    {"--hold", [&](const std::string& v) { o.hold_s = to_number("--hold", v, 0); }},
  };
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "-h" || arg == "--help") {
      o.mode = "--help";
      return o;
    }
    auto eq = arg.find('=');
    bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto it = flags.find(arg);
    if (it == flags.end())
      throw usage_error("unknown flag '" + arg + "'");
    if (!inline_value) {
      if (i + 1 >= argc)
        throw usage_error(arg + " needs a value");
      value = argv[++i];
    }
    it->second(value);
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
    o.members = o.mode == "fanout" ? 1000 : 10;
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
  if (o.mode == "fanout")
    return o.members;
  return o.connections;
}

} // namespace parley::bench
