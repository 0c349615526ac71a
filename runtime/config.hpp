#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "actors/cluster_member.hpp"
#include "actors/node_limits.hpp"
#include "protocol/ids.hpp"

#ifndef PARLEY_WEB_DIR
#define PARLEY_WEB_DIR "web" // set by runtime/CMakeLists.txt to the source tree's web/
#endif

namespace parley {

/// Everything a node is started with (docs/architecture.md "Configuration and launch"). Defaults
/// run one node on SQLite in ./data with HTTP on 127.0.0.1:8080.
struct node_config {
  std::string node_name = "local";
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 8080;     // 0: pick a free port (printed at start)
  std::string data_dir = "data";
  std::string storage;           // SOCI connection string; default sqlite3 in data_dir
  std::string storage_sync = "normal"; // normal | full (fsync per group commit)
  size_t storage_workers = 2;
  // Storage shards (storage/sharded_store.hpp): `storage.shard.<i> = <SOCI string>` for i in
  // 0 ... N-1, or the single `storage` key as the only shard. After parse_config: N >= 1.
  std::vector<std::string> storage_shards;
  std::map<workspace_id, size_t> storage_overrides; // storage.shard-override.<W…> = <i>
  std::string jwt_secret;        // env PARLEY_JWT_SECRET; generated in dev when empty
  std::string admin_token;       // env PARLEY_ADMIN_TOKEN; generated in dev when empty
  bool secrets_generated = false;
  size_t scheduler_threads = 0;  // 0: the core count
  std::string scheduler_policy = "sharing"; // sharing | stealing
  size_t io_threads = 1;
  size_t max_connections = 0;    // 0: below the open-file limit
  size_t outbound_queue = 100;
  std::chrono::milliseconds header_timeout{10000}; // a whole HTTP request must arrive in this time
  // A WebSocket write not completed in this time resets the connection (0: never).
  std::chrono::milliseconds write_timeout{30000};
  std::string log_level = "info";
  std::vector<cluster_member> members; // empty: a single node
  uint16_t basp_port = 0;              // this node's CAF (BASP) port in a cluster
  bool http_port_given = false;
  std::string web_dir = PARLEY_WEB_DIR; // the chat page served at /
  bool dev_login = false;        // POST /v1/dev/token mints user tokens (never in production)
  node_limits limits;
  // Redis presence mirror (storage/presence_mirror.hpp); off unless `redis` is set.
  std::string redis_host;        // --redis=host:port
  uint16_t redis_port = 0;
  uint64_t redis_flush_ms = 5000; // TTL refresh interval
  uint64_t redis_ttl_s = 45;
  uint64_t redis_timeout_ms = 500; // connect and command timeout: slower counts as down
  // Kafka export (storage/event_export.hpp); off unless `kafka.brokers` is set.
  std::string kafka_brokers;
  std::string kafka_topic = "parley.messages";
  std::string kafka_presence_topic = "parley.presence";
  std::vector<std::pair<std::string, std::string>> kafka_properties; // --kafka.property=k=v
  // TLS on the listener (https://, wss:// only) when both are set; PEM files.
  std::string tls_cert;
  std::string tls_key;
  // TLS between nodes (CAF's openssl module, mutual authentication) when all three are set.
  std::string cluster_tls_cert;
  std::string cluster_tls_key;
  std::string cluster_tls_cafile;
};

/// Parses `--key=value` / `--key value` arguments and `--config FILE` (lines `key = value`).
/// Throws std::invalid_argument with a one-line message on an unknown key or a bad value.
node_config parse_config(const std::vector<std::string>& args);

/// The usage text of parleyd.
std::string usage();

} // namespace parley
