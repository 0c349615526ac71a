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
  gauge(out, "parley_channels_active", "Active channel actors on this node.",
        ctx.node->channels.size());
  return out;
}

} // namespace parley
