#include "runtime/node.hpp"

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/openssl/publish.hpp>

#include "actors/cluster.hpp"
#include "actors/log.hpp"
#include "actors/node_actors.hpp"
#include "actors/register_types.hpp"
#include "protocol/jwt.hpp"
#include "runtime/io_lanes.hpp"
#include "runtime/listener.hpp"
#include "runtime/rest_api.hpp"
#include "runtime/tls_context.hpp"
#include "storage/sharded_store.hpp"
#ifdef PARLEY_HAVE_REDIS
#include "storage/redis_presence_mirror.hpp"
#endif
#ifdef PARLEY_HAVE_KAFKA
#include "storage/kafka_event_export.hpp"
#endif

namespace parley {

namespace net = boost::asio;

size_t raise_open_file_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  return static_cast<size_t>(lim.rlim_cur);
}

namespace {

/// Descriptors kept free for storage files, peers and accept bursts.
constexpr size_t reserved_descriptors = 256;

struct parley_actor_config : caf::actor_system_config {
  explicit parley_actor_config(const node_config& cfg) {
    register_types(*this);
    auto threads = cfg.scheduler_threads != 0 ? cfg.scheduler_threads
                                              : std::max(1u, std::thread::hardware_concurrency());
    set("scheduler.max-threads", threads);
    set("scheduler.policy", caf::atom_from_string(cfg.scheduler_policy));
    set("logger.console-verbosity", caf::atom("quiet"));
    set("logger.file-verbosity", caf::atom("quiet"));
    if (!cfg.members.empty())
      load<caf::io::middleman>();
    if (!cfg.members.empty() && !cfg.cluster_tls_cert.empty()) {
      // Peers connect through CAF's openssl module; both sides present and verify a cert.
      load<caf::openssl::manager>();
      openssl_certificate = cfg.cluster_tls_cert;
      openssl_key = cfg.cluster_tls_key;
      openssl_cafile = cfg.cluster_tls_cafile;
    }
  }
};

/// One connection to every storage shard, routing by workspace (storage/sharded_store.hpp).
std::unique_ptr<storage::sharded_store> open_store(const node_config& cfg) {
  auto mode = cfg.storage_sync == "full" ? storage::sync_mode::full : storage::sync_mode::normal;
  auto store = storage::open_sharded_store(cfg.storage_shards, cfg.storage_overrides, mode);
  if (!store)
    throw std::runtime_error("cannot open storage: " + caf::to_string(store.error()));
  return std::move(*store);
}

} // namespace

struct node::impl {
  node_config cfg;
  parley_actor_config actor_cfg;
  caf::actor_system system;
  node_env env;
  std::shared_ptr<node_actors> actors = std::make_shared<node_actors>();
  std::unique_ptr<server_context> server;
  std::unique_ptr<rest_api> rest;
  std::unique_ptr<io_lanes> lanes;
  std::shared_ptr<listener> http;
  cluster_actor cluster_handle;

  explicit impl(node_config c)
    : cfg(checked(std::move(c))), actor_cfg(cfg), system(actor_cfg) {
    system.await_actors_before_shutdown(false);
  }

  /// Fails on unusable cluster TLS files before the actor system loads them.
  static node_config checked(node_config c) {
    if (!c.members.empty() && !c.cluster_tls_cert.empty())
      check_cluster_tls_files(c.cluster_tls_cert, c.cluster_tls_key, c.cluster_tls_cafile);
    return c;
  }

  void start() {
    // A bad certificate or key stops the node before it opens anything.
    std::shared_ptr<net::ssl::context> tls;
    if (!cfg.tls_cert.empty())
      tls = make_server_tls_context(cfg.tls_cert, cfg.tls_key);
    auto fd_limit = raise_open_file_limit();
    auto cap = fd_limit > reserved_descriptors * 2 ? fd_limit - reserved_descriptors : fd_limit / 2;
    if (cfg.max_connections == 0 || cfg.max_connections > cap)
      cfg.max_connections = cap;
    if (cfg.jwt_secret.empty() || cfg.admin_token.empty()) {
      if (cfg.jwt_secret.empty())
        cfg.jwt_secret = random_hex(32);
      if (cfg.admin_token.empty())
        cfg.admin_token = random_hex(24);
      cfg.secrets_generated = true;
    }
    if (std::any_of(cfg.storage_shards.begin(), cfg.storage_shards.end(),
                    [](const std::string& s) { return s.rfind("sqlite3://", 0) == 0; })) {
      std::error_code ec;
      std::filesystem::create_directories(cfg.data_dir, ec);
      if (ec)
        throw std::runtime_error("cannot create data directory " + cfg.data_dir + ": "
                                 + ec.message());
    }
    // Storage: one writer connection per shard for the group commit (one commit per shard and
    // batch), a pool of readers with a connection per shard each. Blocking I/O runs in
    // detached actors, never on scheduler threads.
    node_storage storage;
    storage.writer = open_store(cfg);
    for (size_t i = 0; i < cfg.storage_workers; ++i) {
      std::shared_ptr<storage::sharded_store> reader = open_store(cfg);
      storage.workers.push_back({reader, reader});
    }
    env.name = cfg.node_name;
    set_log_node(cfg.node_name);
    if (!set_log_level(cfg.log_level))
      throw std::runtime_error("--log-level must be debug, info, warning or error, not "
                               + cfg.log_level);
    env.limits = cfg.limits;
    start_exports(storage);
    *actors = spawn_node_actors(system, env, std::move(storage));
    if (!cfg.members.empty())
      start_cluster();
    // HTTP/WebSocket listener on Asio threads.
    server = std::make_unique<server_context>(system, actors, cfg);
    server->max_connections = cfg.max_connections;
    rest = std::make_unique<rest_api>(*server);
    server->rest = rest.get();
    server->tls = std::move(tls);
    auto address = net::ip::make_address(cfg.http_host);
    try {
      lanes = std::make_unique<io_lanes>(cfg.io_threads, &env.counters->lane_backlog,
                                         &env.counters->lane_delay_ns);
      server->lanes = lanes.get();
      http = std::make_shared<listener>(*lanes, net::ip::tcp::endpoint{address, cfg.http_port},
                                        *server);
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot listen on " + cfg.http_host + ":"
                               + std::to_string(cfg.http_port) + ": " + e.what());
    }
    http->run();
    lanes->start();
  }

  /// The optional Redis mirror and Kafka export: each runs on its own thread and is only
  /// handed deltas by the presence actor, so neither can block delivery.
  void start_exports(node_storage& storage) {
    if (cfg.redis_port != 0) {
#ifdef PARLEY_HAVE_REDIS
      storage::redis_mirror_config rc;
      rc.host = cfg.redis_host;
      rc.port = cfg.redis_port;
      rc.node = cfg.node_name;
      rc.flush = std::chrono::milliseconds(cfg.redis_flush_ms);
      rc.ttl = std::chrono::seconds(cfg.redis_ttl_s);
      rc.connect_timeout = rc.command_timeout = std::chrono::milliseconds(cfg.redis_timeout_ms);
      storage.mirror
        = std::make_shared<storage::redis_presence_mirror>(rc, &env.counters->redis_errors);
#else
      throw std::runtime_error("--redis: this build has no hiredis (install libhiredis-dev)");
#endif
    }
    if (!cfg.kafka_brokers.empty()) {
#ifdef PARLEY_HAVE_KAFKA
      storage::kafka_export_config kc;
      kc.brokers = cfg.kafka_brokers;
      kc.topic = cfg.kafka_topic;
      kc.presence_topic = cfg.kafka_presence_topic;
      kc.properties = cfg.kafka_properties;
      // One exporter reads every shard (merged in channel order) through its own connections.
      auto exporter = storage::kafka_event_export::start(
        kc, open_store(cfg),
        storage::kafka_export_counters{&env.counters->kafka_errors,
                                       &env.counters->kafka_exported});
      if (!exporter)
        throw std::runtime_error("cannot start the Kafka export: "
                                 + caf::to_string(exporter.error()));
      storage.exporter = std::shared_ptr<storage::kafka_event_export>(std::move(*exporter));
#else
      throw std::runtime_error("--kafka.brokers: this build has no librdkafka (install "
                               "librdkafka-dev)");
#endif
    }
  }

  void start_cluster() {
    std::vector<cluster_member> peers;
    for (auto& m : cfg.members)
      if (m.name != cfg.node_name)
        peers.push_back(m);
    cluster_handle = system.spawn(cluster, actors->for_cluster(), peers);
    auto published = caf::actor_cast<caf::actor>(cluster_handle);
    auto bound = system.has_openssl_manager()
                   ? caf::openssl::publish(published, cfg.basp_port, nullptr, true)
                   : system.middleman().publish(published, cfg.basp_port, nullptr, true);
    if (!bound)
      throw std::runtime_error("cannot listen for peers on port " + std::to_string(cfg.basp_port)
                               + ": " + system.render(bound.error()));
  }

  ~impl() {
    if (cluster_handle)
      caf::anon_send_exit(cluster_handle, caf::exit_reason::user_shutdown);
    cluster_handle = nullptr;
    if (http)
      http->stop();
    if (lanes)
      lanes->stop();
    // Actors may still hold sessions; the system does not wait for them (docs/architecture.md
    // "Shutdown").
    stop_node_actors(*actors);
  }
};

node::node(node_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
  impl_->start();
}

node::~node() = default;

uint16_t node::port() const {
  return impl_->http->port();
}

const node_config& node::config() const {
  return impl_->cfg;
}

void node::wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
}

} // namespace parley
