#include "runtime/config.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>

#include "storage/shard_map.hpp"

namespace parley {

namespace {

using setter = std::function<void(node_config&, const std::string&)>;

uint64_t to_uint(const std::string& key, const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 18)
    throw std::invalid_argument("--" + key + " needs a non-negative integer, got '" + v + "'");
  return std::stoull(v);
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

caf::timespan to_ms(const std::string& key, const std::string& v) {
  return std::chrono::milliseconds(to_uint(key, v));
}

const std::map<std::string, setter>& setters() {
  static const std::map<std::string, setter> table = {
    {"node", [](node_config& c, const std::string& v) { c.node_name = v; }},
    {"http-host", [](node_config& c, const std::string& v) { c.http_host = v; }},
    {"http-port",
     [](node_config& c, const std::string& v) {
       auto p = to_uint("http-port", v);
       if (p > 65535)
         throw std::invalid_argument("--http-port must be 0 ... 65535");
       c.http_port = static_cast<uint16_t>(p);
     }},
    {"data-dir", [](node_config& c, const std::string& v) { c.data_dir = v; }},
    {"storage", [](node_config& c, const std::string& v) { c.storage = v; }},
    {"storage.sync",
     [](node_config& c, const std::string& v) {
       if (v != "normal" && v != "full")
         throw std::invalid_argument("--storage.sync must be normal or full");
       c.storage_sync = v;
     }},
    {"storage.readers",
     [](node_config& c, const std::string& v) {
       c.storage_workers = std::max<size_t>(1, to_uint("storage.readers", v));
     }},
    {"scheduler.threads",
     [](node_config& c, const std::string& v) { c.scheduler_threads = to_uint("scheduler.threads", v); }},
    {"scheduler.policy",
     [](node_config& c, const std::string& v) {
       if (v != "sharing" && v != "stealing")
         throw std::invalid_argument("--scheduler.policy must be sharing or stealing");
       c.scheduler_policy = v;
     }},
    {"io-threads",
     [](node_config& c, const std::string& v) {
       c.io_threads = std::max<size_t>(1, to_uint("io-threads", v));
     }},
    {"max-connections",
     [](node_config& c, const std::string& v) { c.max_connections = to_uint("max-connections", v); }},
    {"outbound-queue",
     [](node_config& c, const std::string& v) {
       c.outbound_queue = std::max<size_t>(1, to_uint("outbound-queue", v));
     }},
    {"log-level", [](node_config& c, const std::string& v) { c.log_level = v; }},
    {"web-dir", [](node_config& c, const std::string& v) { c.web_dir = v; }},
    {"dev-login",
     [](node_config& c, const std::string& v) {
       if (v != "true" && v != "false")
         throw std::invalid_argument("--dev-login must be true or false");
       c.dev_login = v == "true";
     }},
    {"jwt-secret-file",
     [](node_config& c, const std::string& v) {
       std::ifstream in{v};
       if (!std::getline(in, c.jwt_secret) || c.jwt_secret.empty())
         throw std::invalid_argument("cannot read a secret from --jwt-secret-file " + v);
     }},
    {"admin-token-file",
     [](node_config& c, const std::string& v) {
       std::ifstream in{v};
       if (!std::getline(in, c.admin_token) || c.admin_token.empty())
         throw std::invalid_argument("cannot read a token from --admin-token-file " + v);
     }},
    {"http.header-timeout-ms",
     [](node_config& c, const std::string& v) {
       c.header_timeout = std::chrono::milliseconds(std::max<uint64_t>(1, to_uint("http.header-timeout-ms", v)));
     }},
    {"hello-timeout-ms",
     [](node_config& c, const std::string& v) { c.limits.hello_timeout = to_ms("hello-timeout-ms", v); }},
    {"idle-timeout-ms",
     [](node_config& c, const std::string& v) { c.limits.idle_timeout = to_ms("idle-timeout-ms", v); }},
    {"channel-idle-ms",
     [](node_config& c, const std::string& v) { c.limits.channel_idle = to_ms("channel-idle-ms", v); }},
    {"rate.user-per-s",
     [](node_config& c, const std::string& v) { c.limits.user_rate_per_s = to_double("rate.user-per-s", v); }},
    {"rate.user-burst",
     [](node_config& c, const std::string& v) { c.limits.user_burst = to_double("rate.user-burst", v); }},
    {"rate.workspace-per-s",
     [](node_config& c, const std::string& v) {
       c.limits.workspace_rate_per_s = to_double("rate.workspace-per-s", v);
     }},
    {"rate.workspace-burst",
     [](node_config& c, const std::string& v) {
       c.limits.workspace_burst = to_double("rate.workspace-burst", v);
     }},
    {"fanout.large-channel",
     [](node_config& c, const std::string& v) {
       c.limits.large_channel_members = to_uint("fanout.large-channel", v);
     }},
    {"redis",
     [](node_config& c, const std::string& v) {
       auto colon = v.rfind(':');
       if (colon == std::string::npos || colon == 0)
         throw std::invalid_argument("--redis must be host:port, got '" + v + "'");
       auto p = to_uint("redis", v.substr(colon + 1));
       if (p == 0 || p > 65535)
         throw std::invalid_argument("--redis port must be 1 ... 65535");
       c.redis_host = v.substr(0, colon);
       c.redis_port = static_cast<uint16_t>(p);
     }},
    {"redis.flush-ms",
     [](node_config& c, const std::string& v) {
       c.redis_flush_ms = std::max<uint64_t>(10, to_uint("redis.flush-ms", v));
     }},
    {"redis.ttl-s",
     [](node_config& c, const std::string& v) {
       c.redis_ttl_s = std::max<uint64_t>(1, to_uint("redis.ttl-s", v));
     }},
    {"redis.timeout-ms",
     [](node_config& c, const std::string& v) {
       c.redis_timeout_ms = std::max<uint64_t>(1, to_uint("redis.timeout-ms", v));
     }},
    {"kafka.brokers", [](node_config& c, const std::string& v) { c.kafka_brokers = v; }},
    {"kafka.topic",
     [](node_config& c, const std::string& v) {
       if (v.empty())
         throw std::invalid_argument("--kafka.topic must not be empty");
       c.kafka_topic = v;
     }},
    {"kafka.presence-topic",
     [](node_config& c, const std::string& v) {
       if (v.empty())
         throw std::invalid_argument("--kafka.presence-topic must not be empty");
       c.kafka_presence_topic = v;
     }},
    {"kafka.property",
     [](node_config& c, const std::string& v) {
       auto eq = v.find('=');
       if (eq == std::string::npos || eq == 0)
         throw std::invalid_argument("--kafka.property must be key=value, got '" + v + "'");
       c.kafka_properties.emplace_back(v.substr(0, eq), v.substr(eq + 1));
     }},
    {"fanout.overload-backlog",
     [](node_config& c, const std::string& v) {
       c.limits.overload_backlog = to_uint("fanout.overload-backlog", v);
     }},
    {"fanout.overload-cursor-members",
     [](node_config& c, const std::string& v) {
       c.limits.overload_cursor_members = to_uint("fanout.overload-cursor-members", v);
     }},
    {"fanout.internode-deadline-ms",
     [](node_config& c, const std::string& v) {
       c.limits.internode_deadline = to_ms("fanout.internode-deadline-ms", v);
     }},
    {"fanout.circuit-failures",
     [](node_config& c, const std::string& v) {
       auto n = to_uint("fanout.circuit-failures", v);
       if (n == 0 || n > 1000000)
         throw std::invalid_argument("--fanout.circuit-failures must be 1 ... 1000000");
       c.limits.circuit_failures = static_cast<uint32_t>(n);
     }},
    {"fanout.circuit-probe-ms",
     [](node_config& c, const std::string& v) {
       auto n = to_uint("fanout.circuit-probe-ms", v);
       if (n == 0)
         throw std::invalid_argument("--fanout.circuit-probe-ms must be at least 1");
       c.limits.circuit_probe_interval = std::chrono::milliseconds(n);
     }},
    {"tls.cert", [](node_config& c, const std::string& v) { c.tls_cert = v; }},
    {"tls.key", [](node_config& c, const std::string& v) { c.tls_key = v; }},
    {"cluster.tls-cert", [](node_config& c, const std::string& v) { c.cluster_tls_cert = v; }},
    {"cluster.tls-key", [](node_config& c, const std::string& v) { c.cluster_tls_key = v; }},
    {"cluster.tls-cafile",
     [](node_config& c, const std::string& v) { c.cluster_tls_cafile = v; }},
    {"presence.coalesce-members",
     [](node_config& c, const std::string& v) {
       c.limits.presence_coalesce_members = to_uint("presence.coalesce-members", v);
     }},
    {"presence.push-max-members",
     [](node_config& c, const std::string& v) {
       c.limits.presence_push_members = to_uint("presence.push-max-members", v);
     }},
  };
  return table;
}

cluster_member parse_member(const std::string& name, const std::string& value) {
  // host:basp_port:http_port
  auto a = value.find(':');
  auto b = a == std::string::npos ? a : value.find(':', a + 1);
  if (name.empty() || b == std::string::npos)
    throw std::invalid_argument("node." + name + " must be host:basp_port:http_port, got '"
                                + value + "'");
  cluster_member m;
  m.name = name;
  m.host = value.substr(0, a);
  auto basp = to_uint("node." + name, value.substr(a + 1, b - a - 1));
  auto http = to_uint("node." + name, value.substr(b + 1));
  if (m.host.empty() || basp == 0 || basp > 65535 || http > 65535)
    throw std::invalid_argument("node." + name + " must be host:basp_port:http_port, got '"
                                + value + "'");
  m.basp_port = static_cast<uint16_t>(basp);
  m.http_port = static_cast<uint16_t>(http);
  return m;
}

/// `storage.shard.<i> = <connection>`: shard i of the list (a later key for i replaces it).
void apply_shard(node_config& cfg, const std::string& key, const std::string& index,
                 const std::string& value) {
  auto i = to_uint(key, index);
  if (i >= storage::shard_map::max_shards)
    throw std::invalid_argument("--" + key + ": at most "
                                + std::to_string(storage::shard_map::max_shards) + " shards");
  if (value.empty())
    throw std::invalid_argument("--" + key + " needs a SOCI connection string");
  if (cfg.storage_shards.size() <= i)
    cfg.storage_shards.resize(i + 1);
  cfg.storage_shards[i] = value;
}

/// `storage.shard-override.<W…> = <i>`: pins a workspace to shard i.
void apply_override(node_config& cfg, const std::string& key, const std::string& workspace,
                    const std::string& value) {
  auto ws = workspace_id::parse(workspace);
  if (!ws)
    throw std::invalid_argument("--" + key + ": '" + workspace + "' is not a workspace id like W42");
  cfg.storage_overrides[*ws] = to_uint(key, value);
}

/// Checks the shard list and overrides once every key is read; fills `storage_shards`.
void finish_storage(node_config& cfg) {
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

void apply(node_config& cfg, const std::string& key, const std::string& value) {
  if (key.rfind("node.", 0) == 0) {
    cfg.members.push_back(parse_member(key.substr(5), value));
    return;
  }
  const std::string shard_prefix = "storage.shard.";
  const std::string override_prefix = "storage.shard-override.";
  if (key.rfind(shard_prefix, 0) == 0) {
    apply_shard(cfg, key, key.substr(shard_prefix.size()), value);
    return;
  }
  if (key.rfind(override_prefix, 0) == 0) {
    apply_override(cfg, key, key.substr(override_prefix.size()), value);
    return;
  }
  if (key == "http-port")
    cfg.http_port_given = true;
  auto i = setters().find(key);
  if (i == setters().end())
    throw std::invalid_argument("unknown option --" + key + " (see --help)");
  i->second(cfg, value);
}

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos)
    return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

void load_file(node_config& cfg, const std::string& path) {
  std::ifstream in{path};
  if (!in)
    throw std::invalid_argument("cannot open config file " + path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    line = trim(line);
    if (line.empty() || line[0] == '#')
      continue;
    auto eq = line.find('=');
    if (eq == std::string::npos)
      throw std::invalid_argument(path + ":" + std::to_string(n) + ": expected key = value");
    apply(cfg, trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
  }
}

} // namespace

node_config parse_config(const std::vector<std::string>& args) {
  node_config cfg;
  if (auto s = std::getenv("PARLEY_JWT_SECRET"))
    cfg.jwt_secret = s;
  if (auto s = std::getenv("PARLEY_ADMIN_TOKEN"))
    cfg.admin_token = s;
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    if (a.rfind("--", 0) != 0)
      throw std::invalid_argument("unexpected argument '" + a + "' (see --help)");
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      flags.emplace_back(a.substr(2, eq - 2), a.substr(eq + 1));
    } else {
      if (i + 1 >= args.size())
        throw std::invalid_argument("option " + a + " needs a value");
      flags.emplace_back(a.substr(2), args[++i]);
    }
  }
  // The config file first, so command-line keys override it.
  for (auto& [k, v] : flags)
    if (k == "config")
      load_file(cfg, v);
  for (auto& [k, v] : flags)
    if (k != "config")
      apply(cfg, k, v);
  if (cfg.storage.empty() && cfg.storage_shards.empty())
    cfg.storage = "sqlite3://db=" + cfg.data_dir + "/parley.db";
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
  std::string text = "usage: parleyd [--config FILE] [--node NAME] [--key=value ...]\n"
                     "Runs one Parley node. With no arguments: SQLite in ./data, HTTP on "
                     "127.0.0.1:8080.\nSecrets: PARLEY_JWT_SECRET, PARLEY_ADMIN_TOKEN (generated "
                     "in dev when unset).\nKeys:\n";
  for (auto& [k, v] : setters())
    text += "  --" + k + "\n";
  text += "  node.<name> = host:basp_port:http_port   (cluster file: one line per node)\n";
  text += "  storage.shard.<i> = <SOCI connection>     (storage shards 0 ... N-1, instead of "
          "storage)\n";
  text += "  storage.shard-override.<W…> = <i>         (pins a workspace to shard i)\n";
  return text;
}

} // namespace parley
