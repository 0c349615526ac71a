#include "runtime/metrics.hpp"

namespace parley {

namespace {

void gauge(std::string& out, const char* name, const char* help, uint64_t value,
           const char* type = "gauge") {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

} // namespace

std::string render_metrics(server_context& ctx) {
  std::string out;
  gauge(out, "parley_connections_open", "Open WebSocket connections.", ctx.open_connections);
  gauge(out, "parley_connections_rejected_total", "Upgrades refused at the connection cap.",
        ctx.rejected_connections, "counter");
  gauge(out, "parley_channels_active", "Active channel actors and stubs on this node.",
        ctx.node->channels.size());
  auto& c = ctx.node->counters;
  gauge(out, "parley_messages_acked_total", "Messages made durable and acked by channels owned here.",
        c.messages_acked, "counter");
  gauge(out, "parley_gateway_deliveries_total",
        "Message deliveries received by this node's gateway (one per message per node).",
        c.deliveries_received, "counter");
  gauge(out, "parley_internode_deliveries_total",
        "Deliveries sent by channels owned here to gateways of other nodes.",
        c.deliveries_sent_remote, "counter");
  gauge(out, "parley_frames_pushed_total", "Frames pushed to local connections by the gateway.",
        c.frames_pushed, "counter");
  gauge(out, "parley_rate_limited_total", "Sends refused by a rate limit.", c.rate_limited,
        "counter");
  gauge(out, "parley_cluster_live_nodes", "Live nodes of the cluster, this one included.",
        ctx.node->nodes.live().size());
  return out;
}

} // namespace parley
