#include "runtime/config.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <boost/program_options.hpp>

#include "storage/shard_map.hpp"

namespace parley {

namespace {

namespace po = boost::program_options;

uint64_t to_uint(const std::string& key, const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18)
    throw std::invalid_argument("--" + key + " needs a non-negative integer, got '" + v + "'");
  return std::stoull(v);
}

/// An integer in lo ... hi, else "--key must be lo ... hi".
uint64_t to_uint(const std::string& key, const std::string& v, uint64_t lo, uint64_t hi) {
  auto n = to_uint(key, v);
  if (n < lo || n > hi)
    throw std::invalid_argument("--" + key + " must be "
                                + (hi == std::numeric_limits<uint64_t>::max()
                                     ? "at least " + std::to_string(lo)
                                     : std::to_string(lo) + " ... " + std::to_string(hi)));
  return n;
}

double to_double(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    auto d = std::stod(v, &used);
    if (used == v.size() && d > 0)
      return d;
  } catch (...) {
  }
  throw std::invalid_argument("--" + key + " needs a positive number, got '" + v + "'");
}

std::string read_first_line(const std::string& key, const std::string& path, const char* what) {
  std::ifstream in{path};
  std::string line;
  if (!std::getline(in, line) || line.empty())
    throw std::invalid_argument(std::string("cannot read ") + what + " from --" + key + " " + path);
  return line;
}

cluster_member parse_member(const std::string& key, const std::string& value) {
  auto bad = std::invalid_argument(key + " must be host:basp_port:http_port, got '" + value
                                   + "'");
  auto a = value.find(':');
  auto b = a == std::string::npos ? a : value.find(':', a + 1);
  cluster_member m;
  m.name = key.substr(5); // after "node."
  if (m.name.empty() || b == std::string::npos)
    throw bad;
  m.host = value.substr(0, a);
  auto basp = to_uint(key, value.substr(a + 1, b - a - 1));
  auto http = to_uint(key, value.substr(b + 1));
  if (m.host.empty() || basp == 0 || basp > 65535 || http > 65535)
    throw bad;
  m.basp_port = static_cast<uint16_t>(basp);
  m.http_port = static_cast<uint16_t>(http);
  return m;
}

/// Every key of parleyd by group: its value, one-line description, and the notifier that checks
/// the value and stores it in `c`. `key` is the key being applied (node.n1 for node.*), so each
/// message names it.
po::options_description describe(node_config& c, const std::string& key) {
  using text = const std::string&;
  auto value = [](const char* name, std::function<void(text)> set) {
    return po::value<std::string>()->value_name(name)->notifier(std::move(set));
  };
  auto str = [&](const char* name, std::string& field) {
    return value(name, [&field](text v) { field = v; });
  };
  // Integer keys raise values below `min` to it (0 threads means 1).
  auto count = [&](const char* name, auto& field, uint64_t min = 0) {
    return value(name, [&, min](text v) { field = std::max(min, to_uint(key, v)); });
  };
  auto ms = [&](auto& field, uint64_t min = 0) {
    return value("MS", [&, min](text v) {
      field = std::chrono::milliseconds(std::max(min, to_uint(key, v)));
    });
  };
  auto positive = [&](double& field) {
    return value("N", [&](text v) { field = to_double(key, v); });
  };
  auto either = [&](std::string& field, std::string a, std::string b) {
    return value("MODE", [&, a, b](text v) {
      if (v != a && v != b)
        throw std::invalid_argument("--" + key + " must be " + a + " or " + b);
      field = v;
    });
  };
  auto nonempty = [&](std::string& field) {
    return value("TOPIC", [&](text v) {
      if (v.empty())
        throw std::invalid_argument("--" + key + " must not be empty");
      field = v;
    });
  };

  po::options_description node("Node", 100);
  node.add_options()
    // parse_config reads the files --config names first; this runs for a line in a file.
    ("config", value("FILE", [&](text) {
       throw std::invalid_argument("--config is not read inside a config file");
     }), "read `key = value` lines, # comments; command-line keys win")
    ("node", str("NAME", c.node_name), "this node's name; in a cluster file, its node.NAME")
    ("scheduler.threads", count("N", c.scheduler_threads), "CAF scheduler threads (0: the cores)")
    ("scheduler.policy", either(c.scheduler_policy, "sharing", "stealing"),
     "CAF scheduler: sharing (default) | stealing")
    ("io-threads", count("N", c.io_threads, 1), "Asio threads of the listener (1)")
    ("jwt-secret-file",
     value("FILE", [&](text v) { c.jwt_secret = read_first_line(key, v, "a secret"); }),
     "JWT secret: FILE's first line (else env PARLEY_JWT_SECRET)")
    ("admin-token-file",
     value("FILE", [&](text v) { c.admin_token = read_first_line(key, v, "a token"); }),
     "admin token: FILE's first line (else env PARLEY_ADMIN_TOKEN)")
    ("dev-login", value("BOOL", [&](text v) {
       if (v != "true" && v != "false")
         throw std::invalid_argument("--dev-login must be true or false");
       c.dev_login = v == "true";
     }), "true: POST /v1/dev/token mints tokens (never in production)");

  po::options_description listener("Listener", 100);
  listener.add_options()
    ("http-host", str("HOST", c.http_host),
     "listen address (127.0.0.1; in a cluster: node.NAME's host)")
    ("http-port", value("PORT", [&](text v) {
       c.http_port = static_cast<uint16_t>(to_uint(key, v, 0, 65535));
       c.http_port_given = true;
     }), "HTTP/WebSocket port (8080); 0 picks one, printed at start")
    ("web-dir", str("DIR", c.web_dir), "the chat page served at /")
    ("max-connections", count("N", c.max_connections),
     "more upgrades get HTTP 429 (0: the open-file limit - 256)")
    ("outbound-queue", count("N", c.outbound_queue, 1), "frames queued per connection (100)")
    ("http.header-timeout-ms", ms(c.header_timeout, 1), "a whole HTTP request must arrive in "
     "this time (10000)")
    ("hello-timeout-ms", ms(c.limits.hello_timeout), "close 1008 without hello in this time "
     "(10000)")
    ("idle-timeout-ms", ms(c.limits.idle_timeout), "close 1001 after this long silent (30000)")
    // Bounded so the deadline (start + timeout, in nanoseconds) cannot overflow.
    ("write-timeout-ms", value("MS", [&](text v) {
       c.write_timeout = std::chrono::milliseconds(to_uint(key, v, 0, 86'400'000));
     }), "reset a client whose write waits this long (30000; 0: never)");

  po::options_description storage("Storage", 100);
  storage.add_options()
    ("data-dir", str("DIR", c.data_dir), "where the SQLite database lives (data)")
    ("storage", str("SOCI", c.storage), "the one database (sqlite3://db=DATA-DIR/parley.db)")
    ("storage.sync", either(c.storage_sync, "normal", "full"),
     "normal: acks survive kill -9; full: and power loss (fsync)")
    ("storage.readers", count("N", c.storage_workers, 1),
     "storage workers for reads and membership writes, one connection per shard each (2)")
    ("storage.shard.*", value("SOCI", [&](text v) {
       auto i = to_uint(key, key.substr(14)); // after "storage.shard."
       if (i >= storage::shard_map::max_shards)
         throw std::invalid_argument("--" + key + ": at most "
                                     + std::to_string(storage::shard_map::max_shards)
                                     + " shards");
       if (v.empty())
         throw std::invalid_argument("--" + key + " needs a SOCI connection string");
       c.storage_shards.resize(std::max<size_t>(c.storage_shards.size(), i + 1));
       c.storage_shards[i] = v;
     }), "storage.shard.I: shard I of 0 ... N-1, instead of storage")
    ("storage.shard-override.*", value("I", [&](text v) {
       auto workspace = key.substr(23); // after "storage.shard-override."
       auto ws = workspace_id::parse(workspace);
       if (!ws)
         throw std::invalid_argument("--" + key + ": '" + workspace
                                     + "' is not a workspace id like W42");
       c.storage_overrides[*ws] = to_uint(key, v);
     }), "storage.shard-override.W42: pins workspace W42 to shard I");

  po::options_description cluster("Cluster", 100);
  cluster.add_options()
    ("node.*", value("HOST:BASP:HTTP", [&](text v) { c.members.push_back(parse_member(key, v)); }),
     "node.NAME: a member, its CAF (BASP) and HTTP ports; one each");

  po::options_description limits("Limits", 100);
  limits.add_options()
    ("channel-idle-ms", ms(c.limits.channel_idle), "passivate a quiet channel after this "
     "(300000)")
    ("rate.user-per-s", positive(c.limits.user_rate_per_s), "messages per user per channel (1)")
    ("rate.user-burst", positive(c.limits.user_burst), "burst per user per channel (5)")
    ("rate.workspace-per-s", positive(c.limits.workspace_rate_per_s), "messages per workspace "
     "and node (1000)")
    ("rate.workspace-burst", positive(c.limits.workspace_burst), "burst per workspace (1000)");

  po::options_description fanout("Fan-out", 100);
  fanout.add_options()
    ("fanout.large-channel", count("N", c.limits.large_channel_members),
     "above this many members: cursor mode (50000)")
    ("fanout.overload-backlog", count("N", c.limits.overload_backlog),
     "fan-out backlog above which the node is overloaded (5000)")
    ("fanout.overload-delay-ms", value("MS", [&](text v) {
       auto n = to_uint(key, v, 1, std::numeric_limits<uint64_t>::max());
       c.limits.overload_delay = std::chrono::milliseconds(n);
     }), "fan-out waiting longer than this: overloaded (500)")
    ("fanout.overload-backed-up-sockets", count("N", c.limits.overload_backed_up_sockets),
     "more full send buffers than this: overloaded (256; 0: off)")
    ("fanout.overload-cursor-members", count("N", c.limits.overload_cursor_members),
     "overloaded: channels above this many members use cursors (100)")
    ("fanout.internode-deadline-ms", ms(c.limits.internode_deadline),
     "a peer confirming slower than this is slow (50; 0: no circuit)")
    ("fanout.peer-dead-ms", value("MS", [&](text v) {
       auto n = to_uint(key, v, 1, std::numeric_limits<uint64_t>::max());
       c.limits.peer_dead_after = std::chrono::milliseconds(n);
     }), "a peer confirming nothing for this long fails (2000)")
    ("fanout.circuit-failures", value("N", [&](text v) {
       c.limits.circuit_failures = static_cast<uint32_t>(to_uint(key, v, 1, 1000000));
     }), "consecutive failures that open a peer's circuit (1)")
    ("fanout.circuit-probe-ms", value("MS", [&](text v) {
       auto n = to_uint(key, v, 1, std::numeric_limits<uint64_t>::max());
       c.limits.circuit_probe_interval = std::chrono::milliseconds(n);
     }), "an open circuit lets one probe through this often (10000)");

  po::options_description presence("Presence", 100);
  presence.add_options()
    ("presence.coalesce-members", count("N", c.limits.presence_coalesce_members),
     "above this many members: 1 presence.update/s per user (10000)")
    ("presence.push-max-members", count("N", c.limits.presence_push_members),
     "above this many members: no presence push, members pull (1000)")
    ("presence.subscribe-max", count("N", c.limits.presence_subscribe_max),
     "users one connection may watch with presence.subscribe (500)");

  po::options_description redis("Redis presence mirror", 100);
  redis.add_options()
    ("redis", value("HOST:PORT", [&](text v) {
       auto colon = v.rfind(':');
       if (colon == std::string::npos || colon == 0)
         throw std::invalid_argument("--redis must be host:port, got '" + v + "'");
       auto port = to_uint(key, v.substr(colon + 1));
       if (port == 0 || port > 65535)
         throw std::invalid_argument("--redis port must be 1 ... 65535");
       c.redis_port = static_cast<uint16_t>(port);
       c.redis_host = v.substr(0, colon);
     }), "mirror presence into this Redis (off when unset)")
    ("redis.flush-ms", count("MS", c.redis_flush_ms, 10), "TTL refresh interval (5000)")
    ("redis.ttl-s", count("S", c.redis_ttl_s, 1), "TTL of every mirrored key (45)")
    ("redis.timeout-ms", count("MS", c.redis_timeout_ms, 1),
     "connect and command timeout; slower counts as down (500)");

  po::options_description kafka("Kafka export", 100);
  kafka.add_options()
    ("kafka.brokers", str("HOST:PORT,...", c.kafka_brokers),
     "export the log and presence to Kafka (off when unset)")
    ("kafka.topic", nonempty(c.kafka_topic), "topic of messages (parley.messages)")
    ("kafka.presence-topic", nonempty(c.kafka_presence_topic),
     "topic of presence transitions (parley.presence)")
    ("kafka.property", value("KEY=VALUE", [&](text v) {
       auto eq = v.find('=');
       if (eq == std::string::npos || eq == 0)
         throw std::invalid_argument("--kafka.property must be key=value, got '" + v + "'");
       c.kafka_properties.emplace_back(v.substr(0, eq), v.substr(eq + 1));
     }), "a librdkafka property; repeatable");

  po::options_description tls("TLS (PEM files)", 100);
  tls.add_options()
    ("tls.cert", str("FILE", c.tls_cert), "listener certificate: https:// and wss:// only")
    ("tls.key", str("FILE", c.tls_key), "listener private key, with tls.cert")
    ("cluster.tls-cert", str("FILE", c.cluster_tls_cert), "this node's certificate between "
     "nodes (mutual TLS)")
    ("cluster.tls-key", str("FILE", c.cluster_tls_key), "its private key, with cluster.tls-cert")
    ("cluster.tls-cafile", str("FILE", c.cluster_tls_cafile),
     "CA of every node's certificate, with cluster.tls-cert");

  po::options_description logging("Logging", 100);
  logging.add_options()
    ("log-level", value("LEVEL", [&](text v) {
       // The names set_log_level (actors/log.cpp) takes; warning is warn's long form.
       if (v != "error" && v != "warn" && v != "warning" && v != "info" && v != "debug")
         throw std::invalid_argument("--log-level must be one of error, warn, info, debug, got '"
                                     + v + "'");
       c.log_level = v;
     }), "error | warn | info (default) | debug (per message)");

  po::options_description all(100);
  all.add(node).add(listener).add(storage).add(cluster).add(limits).add(fanout).add(presence);
  all.add(redis).add(kafka).add(tls).add(logging);
  return all;
}

/// Applies `opts` in order, each through its key's notifier: a later value replaces an earlier
/// one and repeated kafka.property keys add up (po::store would refuse a key given twice).
void apply(const po::options_description& keys, std::string& key,
           const std::vector<po::option>& opts) {
  for (auto& o : opts) {
    if (o.string_key.empty())
      throw std::invalid_argument("unexpected argument '" + o.value.at(0) + "' (see --help)");
    auto* d = keys.find_nothrow(o.string_key, false);
    if (!d)
      throw std::invalid_argument("unknown option --" + o.string_key + " (see --help)");
    key = o.string_key;
    boost::any value;
    d->semantic()->parse(value, o.value, true);
    d->semantic()->notify(value);
  }
}

// po refuses `--key=` with nothing after '=', but an empty value is valid here (`--storage=`
// is the default database, `--kafka.brokers=` no export): this reads it as "".
std::vector<po::option> empty_value(std::vector<std::string>& args) {
  const auto& t = args.front();
  if (t.size() < 4 || t.compare(0, 2, "--") != 0 || t.find('=') != t.size() - 1)
    return {};
  po::option o(t.substr(2, t.size() - 3), {""});
  o.original_tokens = {t};
  args.erase(args.begin());
  return {o};
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

/// The `key = value` lines of a config file. Not po::parse_config_file: that one cuts a value
/// at any '#' (a SOCI password may hold one) and takes `[section]` lines.
std::vector<po::option> read_file(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw std::invalid_argument("cannot open config file " + path);
  std::vector<po::option> opts;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    line = trim(line);
    if (line.empty() || line[0] == '#')
      continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(path + ":" + std::to_string(n) + ": expected key = value");
    opts.emplace_back(trim(line.substr(0, eq)),
                      std::vector<std::string>{trim(line.substr(eq + 1))});
  }
  return opts;
}

/// Checks the shard list and overrides once every key is read; fills `storage_shards`.
void finish_storage(node_config& cfg) {
  if (cfg.storage.empty() && cfg.storage_shards.empty())
    cfg.storage = "sqlite3://db=" + cfg.data_dir + "/parley.db";
  if (cfg.storage_shards.empty()) {
    cfg.storage_shards.push_back(cfg.storage); // the single `storage` key is shard 0
  } else {
    if (!cfg.storage.empty())
      throw std::invalid_argument("--storage and --storage.shard.<i> exclude each other (put the"
                                  " single database in storage.shard.0)");
    for (size_t i = 0; i < cfg.storage_shards.size(); ++i)
      if (cfg.storage_shards[i].empty())
        throw std::invalid_argument("--storage.shard." + std::to_string(i)
                                    + " is missing (shards are numbered 0 ... N-1)");
  }
  for (auto& [ws, index] : cfg.storage_overrides)
    if (index >= cfg.storage_shards.size())
      throw std::invalid_argument("--storage.shard-override." + ws.str() + " = "
                                  + std::to_string(index) + " names no shard (have "
                                  + std::to_string(cfg.storage_shards.size()) + ")");
}

/// po's own messages are one line and name the option; these keep the wording users know.
std::invalid_argument command_line_error(const po::error& e) {
  if (auto* u = dynamic_cast<const po::unknown_option*>(&e)) {
    auto name = u->get_option_name();
    return std::invalid_argument("unknown option " + name.substr(0, name.find('='))
                                 + " (see --help)");
  }
  auto* s = dynamic_cast<const po::invalid_command_line_syntax*>(&e);
  if (s && s->kind() == po::invalid_syntax::missing_parameter)
    return std::invalid_argument("option " + s->get_option_name() + " needs a value");
  return std::invalid_argument(e.what());
}

} // namespace

node_config parse_config(const std::vector<std::string>& args) {
  node_config cfg;
  if (auto s = std::getenv("PARLEY_JWT_SECRET"))
    cfg.jwt_secret = s;
  if (auto s = std::getenv("PARLEY_ADMIN_TOKEN"))
    cfg.admin_token = s;
  std::string key; // the key being applied, for the notifiers' messages
  auto keys = describe(cfg, key);
  std::vector<po::option> given;
  try {
    // No abbreviations: --data must not quietly mean --data-dir.
    given = po::command_line_parser(args)
              .options(keys)
              .style(po::command_line_style::unix_style
                     & ~po::command_line_style::allow_guessing)
              .extra_style_parser(empty_value)
              .run()
              .options;
  } catch (const po::error& e) {
    throw command_line_error(e);
  }
  // The config files first, so command-line keys override them.
  std::vector<po::option> flags;
  for (auto& o : given) {
    if (o.string_key == "config")
      apply(keys, key, read_file(o.value.at(0)));
    else
      flags.push_back(o);
  }
  apply(keys, key, flags);
  finish_storage(cfg);
  if (cfg.tls_cert.empty() != cfg.tls_key.empty())
    throw std::invalid_argument("--tls.cert and --tls.key must be given together");
  if (cfg.cluster_tls_cert.empty() != cfg.cluster_tls_key.empty()
      || cfg.cluster_tls_cert.empty() != cfg.cluster_tls_cafile.empty())
    throw std::invalid_argument(
      "--cluster.tls-cert, --cluster.tls-key and --cluster.tls-cafile must be given together");
  if (!cfg.members.empty()) {
    // A cluster file: --node picks this node's entry.
    auto self = std::find_if(cfg.members.begin(), cfg.members.end(),
                             [&](const cluster_member& m) { return m.name == cfg.node_name; });
    if (self == cfg.members.end())
      throw std::invalid_argument("--node " + cfg.node_name
                                  + " is not one of the nodes of the cluster file");
    cfg.basp_port = self->basp_port;
    if (!cfg.http_port_given)
      cfg.http_port = self->http_port;
    if (cfg.http_host == "127.0.0.1")
      cfg.http_host = self->host;
  }
  return cfg;
}

std::string usage() {
  node_config unused;
  std::string key;
  std::ostringstream out;
  out << "usage: parleyd [--help] [--config FILE] [--node NAME] [--key=value ...]\n"
         "Runs one Parley node. With no arguments: SQLite in ./data, HTTP on 127.0.0.1:8080.\n"
         "Keys are --key=value or --key value, or `key = value` lines in a --config file.\n"
         "Secrets: env PARLEY_JWT_SECRET, PARLEY_ADMIN_TOKEN (generated in dev when unset).\n"
      << describe(unused, key);
  return out.str();
}

} // namespace parley
