#include "runtime/metrics.hpp"

#include <sstream>
#include <string_view>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

namespace parley {

namespace {

/// The families of one scrape, serialized at the end by prometheus-cpp's TextSerializer.
using metric_list = std::vector<prometheus::MetricFamily>;

/// Adds one unlabelled gauge or counter (`type` "gauge" or "counter").
void gauge(metric_list& out, const char* name, const char* help, double value,
           const char* type = "gauge") {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  prometheus::ClientMetric m;
  if (std::string_view(type) == "counter") {
    f.type = prometheus::MetricType::Counter;
    m.counter.value = value;
  } else {
    f.type = prometheus::MetricType::Gauge;
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  out.push_back(std::move(f));
}

/// The inter-node circuits, one labelled series per peer (docs/architecture.md "Backpressure",
/// layer 3).
void circuits(metric_list& out, server_context& ctx) {
  auto rows = ctx.node->circuits->snapshot();
  auto family = [&](const char* name, const char* help, prometheus::MetricType type,
                    auto value) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    for (auto& r : rows) {
      prometheus::ClientMetric m;
      m.label.push_back(prometheus::ClientMetric::Label{"peer", r.peer});
      if (type == prometheus::MetricType::Counter)
        m.counter.value = static_cast<double>(value(r));
      else
        m.gauge.value = static_cast<double>(value(r));
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  };
  family("parley_circuit_state",
         "Circuit of deliveries to each peer node: 0 closed, 1 open (deliveries stopped), "
         "2 half-open (a probe is out).",
         prometheus::MetricType::Gauge,
         [](const peer_circuit_row& r) { return static_cast<int>(r.state); });
  family("parley_internode_deadline_misses_total",
         "Confirmations from each peer node later than fanout.internode-deadline-ms (slow).",
         prometheus::MetricType::Counter,
         [](const peer_circuit_row& r) { return r.deadline_misses; });
  family("parley_internode_peer_failures_total",
         "Confirmations from each peer node that never came while it confirmed nothing for "
         "fanout.peer-dead-ms (dead).",
         prometheus::MetricType::Counter, [](const peer_circuit_row& r) { return r.failures; });
  family("parley_internode_deliveries_skipped_total",
         "Deliveries to each peer node not sent because its circuit was open.",
         prometheus::MetricType::Counter, [](const peer_circuit_row& r) { return r.skipped; });
}

/// Appends the node registry (per actor kind, latencies, hot channels) and renders the text.
std::string serialize(metric_list& out, server_context& ctx) {
  for (auto& f : ctx.node->env.metrics->collect())
    out.push_back(std::move(f));
  std::ostringstream text;
  prometheus::TextSerializer{}.Serialize(text, out);
  return text.str();
}

} // namespace

std::string render_metrics(server_context& ctx) {
  metric_list out;
  gauge(out, "parley_connections_open", "Open WebSocket connections.", ctx.open_connections);
  // Upgrades refused at the connection cap: parley_connections_refused_total{reason="capacity"}
  // of the node registry (actors/actor_metrics.cpp).
  gauge(out, "parley_channels_active", "Active channel actors and stubs on this node.",
        ctx.node->channels->size());
  auto& c = *ctx.node->env.counters;
  gauge(out, "parley_sockets_backed_up",
        "WebSocket connections whose kernel send buffer is full (the socket refused part of a "
        "write); above fanout.overload-backed-up-sockets the node is overloaded.",
        static_cast<double>(c.sockets_backed_up.load(std::memory_order_relaxed)));
  gauge(out, "parley_write_stalls_total",
        "WebSocket connections reset because a write to them did not complete within "
        "write-timeout-ms (the client stopped reading).",
        c.write_stalls, "counter");
  gauge(out, "parley_messages_acked_total",
        "Messages made durable and acked by channels owned here.", c.messages_acked, "counter");
  gauge(out, "parley_gateway_deliveries_total",
        "Message deliveries received by this node's gateway (one per message per node).",
        c.deliveries_received, "counter");
  gauge(out, "parley_internode_deliveries_total",
        "Deliveries sent by channels owned here to gateways of other nodes.",
        c.deliveries_sent_remote, "counter");
  gauge(out, "parley_internode_batches_total",
        "Batches the outboxes sent to gateways of other nodes (one BASP message each).",
        c.internode_batches_sent, "counter");
  gauge(out, "parley_cursor_mode_messages_total",
        "Messages of channels owned here announced by channel.cursor instead of pushed "
        "(large channels, and channels above the overload threshold while overloaded).",
        c.cursor_fanouts, "counter");
  gauge(out, "parley_frames_pushed_total", "Frames pushed to local connections by the gateway.",
        c.frames_pushed, "counter");
  gauge(out, "parley_rate_limited_total", "Sends refused by a rate limit.", c.rate_limited,
        "counter");
  gauge(out, "parley_redis_errors_total",
        "Failed Redis connection attempts and write batches of the presence mirror.",
        c.redis_errors, "counter");
  gauge(out, "parley_kafka_errors_total",
        "Kafka export errors: failed deliveries, log reads and broker errors.", c.kafka_errors,
        "counter");
  gauge(out, "parley_kafka_exported_total", "Messages acknowledged by Kafka (export stream).",
        c.kafka_exported, "counter");
  gauge(out, "parley_cluster_live_nodes", "Live nodes of the cluster, this one included.",
        ctx.node->nodes->live().size());
  circuits(out, ctx);
  return serialize(out, ctx);
}

} // namespace parley
