// `parley inspect`: a top-like view over one node or a cluster, from /metrics and
// /v1/admin/actors (docs/architecture.md "Operators"). Rates are counter deltas between two
// scrapes.

#include "tools/inspect.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "tools/client/http_client.hpp"

namespace parley::tools {

namespace {

using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;
namespace pc = parley::client;

constexpr auto scrape_timeout = std::chrono::milliseconds(2000);

/// One scrape of one node.
struct scrape {
  bool up = false;
  std::string error;
  std::string name; // from /healthz
  clock_type::time_point at;
  std::map<std::string, std::vector<prom_sample>> metrics;
  json actors; // /v1/admin/actors, null without an admin token
};

std::string unescape_label(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) {
      ++i;
      out += v[i] == 'n' ? '\n' : v[i];
    } else {
      out += v[i];
    }
  }
  return out;
}

scrape take_scrape(const std::string& url, const std::string& admin_token,
                   const pc::tls_options& tls) {
  scrape s;
  s.at = clock_type::now();
  try {
    auto res = pc::http_request(url, "GET", "/metrics", "", "", scrape_timeout, tls);
    if (res.status != 200) {
      s.error = "GET /metrics answered " + std::to_string(res.status);
      return s;
    }
    s.metrics = parse_prometheus(res.body);
    s.up = true;
    auto health = pc::http_request(url, "GET", "/healthz", "", "", scrape_timeout, tls);
    auto h = json::parse(health.body, nullptr, false);
    if (h.is_object() && h.contains("node") && h["node"].is_string())
      s.name = h["node"].get<std::string>();
    if (!admin_token.empty()) {
      auto a = pc::http_request(url, "GET", "/v1/admin/actors?limit=1000", "", admin_token,
                                scrape_timeout, tls);
      auto j = json::parse(a.body, nullptr, false);
      if (a.status == 200 && j.is_object())
        s.actors = std::move(j);
    }
  } catch (const std::exception& e) {
    s.up = false;
    s.error = e.what();
  }
  return s;
}

/// The value of an unlabelled metric (or the sum over its label sets).
std::optional<double> value_of(const scrape& s, const std::string& name) {
  auto i = s.metrics.find(name);
  if (i == s.metrics.end() || i->second.empty())
    return std::nullopt;
  double sum = 0;
  for (auto& x : i->second)
    sum += x.value;
  return sum;
}

/// The value of `name` with label `key` = `val`.
std::optional<double> labelled(const scrape& s, const std::string& name, const std::string& key,
                               const std::string& val) {
  auto i = s.metrics.find(name);
  if (i == s.metrics.end())
    return std::nullopt;
  for (auto& x : i->second) {
    auto l = x.labels.find(key);
    if (l != x.labels.end() && l->second == val)
      return x.value;
  }
  return std::nullopt;
}

/// Cumulative buckets (le -> count) of an unlabelled histogram.
std::vector<std::pair<double, double>> buckets_of(const scrape& s, const std::string& name) {
  std::vector<std::pair<double, double>> out;
  auto i = s.metrics.find(name + "_bucket");
  if (i == s.metrics.end())
    return out;
  for (auto& x : i->second) {
    auto le = x.labels.find("le");
    if (le == x.labels.end())
      continue;
    double bound = le->second == "+Inf" ? std::numeric_limits<double>::infinity()
                                         : std::strtod(le->second.c_str(), nullptr);
    out.emplace_back(bound, x.value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// What one node looks like over the interval between two scrapes.
struct node_view {
  std::string url;
  std::string name;
  bool up = false;
  std::string error;
  double connections = 0;
  double msgs_per_s = 0;
  double deliveries_per_s = 0;
  double p99_delivery_ms = -1;
  double live_nodes = 0;
  double dropped_per_s = 0;
  double rate_limited_per_s = 0;
  double channels_active = 0;
  struct channel_row {
    std::string channel;
    double msgs_per_s;
    double online;
  };
  std::vector<channel_row> channels;
  struct kind_row {
    std::string kind;
    double live;
    double processed_per_s;
    double mailbox;
    double mailbox_max;
    double high_water;
  };
  std::vector<kind_row> kinds;
  struct actor_line {
    std::string kind;
    std::string id;
    double mailbox;
    double processed;
  };
  std::vector<actor_line> busiest; // deepest mailboxes (admin token only)
  struct circuit_row {
    std::string peer;
    int state; // 0 closed, 1 open, 2 half-open (parley_circuit_state)
    double misses;
    double skipped;
  };
  std::vector<circuit_row> circuits; // this node's delivery circuits to its peers
};

const char* circuit_name(int state) {
  return state == 1 ? "open" : state == 2 ? "half-open" : "closed";
}

node_view make_view(const std::string& url, const scrape& a, const scrape& b) {
  node_view v;
  v.url = url;
  v.name = b.name;
  v.up = b.up;
  v.error = b.error;
  if (!b.up)
    return v;
  bool both = a.up;
  double dt = both ? std::chrono::duration<double>(b.at - a.at).count() : 0;
  auto rate = [&](const std::string& name) {
    if (!both || dt <= 0)
      return 0.0;
    auto x = value_of(a, name), y = value_of(b, name);
    return x && y ? std::max(0.0, (*y - *x) / dt) : 0.0;
  };
  v.connections = value_of(b, "parley_connections_open").value_or(0);
  v.live_nodes = value_of(b, "parley_cluster_live_nodes").value_or(0);
  v.channels_active = value_of(b, "parley_channels_active").value_or(0);
  v.msgs_per_s = rate("parley_messages_acked_total");
  v.deliveries_per_s = rate("parley_frames_pushed_total");
  v.dropped_per_s = rate("parley_dropped_frames_total");
  v.rate_limited_per_s = rate("parley_rate_limited_total");
  // p99 over the interval when it saw deliveries, else since start.
  auto hb = buckets_of(b, "parley_delivery_latency_seconds");
  auto ha = both ? buckets_of(a, "parley_delivery_latency_seconds") : decltype(hb){};
  auto window = hb;
  if (ha.size() == hb.size()) {
    for (size_t i = 0; i < hb.size(); ++i)
      window[i].second = hb[i].second - ha[i].second;
  }
  auto q = histogram_quantile(0.99, window);
  if (q < 0)
    q = histogram_quantile(0.99, hb);
  v.p99_delivery_ms = q < 0 ? -1 : q * 1000;
  // Busiest channels: the hot set of the second scrape, rates from the per-channel counters.
  if (auto i = b.metrics.find("parley_hot_channel_messages_total"); i != b.metrics.end()) {
    for (auto& x : i->second) {
      auto ch = x.labels.count("channel") ? x.labels.at("channel") : "";
      double r = -1;
      if (both && dt > 0)
        if (auto before = labelled(a, "parley_hot_channel_messages_total", "channel", ch))
          r = std::max(0.0, (x.value - *before) / dt);
      if (r < 0)
        r = labelled(b, "parley_hot_channel_msgs_per_second", "channel", ch).value_or(0);
      v.channels.push_back(node_view::channel_row{
        ch, r, labelled(b, "parley_hot_channel_online_members", "channel", ch).value_or(0)});
    }
    std::sort(v.channels.begin(), v.channels.end(),
              [](auto& x, auto& y) { return x.msgs_per_s > y.msgs_per_s; });
  }
  if (auto i = b.metrics.find("parley_actors_live"); i != b.metrics.end()) {
    for (auto& x : i->second) {
      auto kind = x.labels.count("kind") ? x.labels.at("kind") : "";
      double processed = 0;
      if (both && dt > 0) {
        auto p0 = labelled(a, "parley_actor_messages_processed_total", "kind", kind);
        auto p1 = labelled(b, "parley_actor_messages_processed_total", "kind", kind);
        if (p0 && p1)
          processed = std::max(0.0, (*p1 - *p0) / dt);
      }
      v.kinds.push_back(node_view::kind_row{
        kind, x.value, processed,
        labelled(b, "parley_actor_mailbox_depth", "kind", kind).value_or(0),
        labelled(b, "parley_actor_mailbox_depth_max", "kind", kind).value_or(0),
        labelled(b, "parley_actor_mailbox_high_water", "kind", kind).value_or(0)});
    }
    std::sort(v.kinds.begin(), v.kinds.end(),
              [](auto& x, auto& y) { return x.processed_per_s > y.processed_per_s; });
  }
  if (auto i = b.metrics.find("parley_circuit_state"); i != b.metrics.end()) {
    for (auto& x : i->second) {
      auto peer = x.labels.count("peer") ? x.labels.at("peer") : "";
      v.circuits.push_back(node_view::circuit_row{
        peer, static_cast<int>(x.value),
        labelled(b, "parley_internode_deadline_misses_total", "peer", peer).value_or(0),
        labelled(b, "parley_internode_deliveries_skipped_total", "peer", peer).value_or(0)});
    }
  }
  if (b.actors.is_object() && b.actors.contains("actors")) {
    for (auto& r : b.actors["actors"])
      v.busiest.push_back(node_view::actor_line{r.value("kind", ""), r.value("id", ""),
                                                r.value("mailbox_depth", 0.0),
                                                r.value("processed", 0.0)});
    std::sort(v.busiest.begin(), v.busiest.end(), [](auto& x, auto& y) {
      return x.mailbox != y.mailbox ? x.mailbox > y.mailbox : x.processed > y.processed;
    });
    if (v.busiest.size() > 5)
      v.busiest.resize(5);
  }
  return v;
}

std::string fixed(double x, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, x);
  return buf;
}

std::string pad(std::string s, size_t width, bool right = false) {
  if (s.size() >= width)
    return s + " ";
  std::string fill(width - s.size(), ' ');
  return (right ? fill + s : s + fill) + " ";
}

std::string render_table(const std::vector<node_view>& views, int interval_ms) {
  std::ostringstream out;
  auto now = std::time(nullptr);
  char ts[32];
  std::strftime(ts, sizeof ts, "%H:%M:%S", std::localtime(&now));
  size_t up = std::count_if(views.begin(), views.end(), [](auto& v) { return v.up; });
  out << "parley inspect  " << ts << "  nodes up " << up << "/" << views.size()
      << "  (rates over " << interval_ms << " ms)\n\n";
  out << "NODES\n"
      << pad("node", 28) << pad("state", 6) << pad("conns", 7, true) << pad("msgs/s", 9, true)
      << pad("pushed/s", 10, true) << pad("p99 deliv", 10, true) << pad("dropped/s", 10, true)
      << pad("limited/s", 10, true) << pad("channels", 9, true) << pad("live nodes", 10, true)
      << "\n";
  for (auto& v : views) {
    auto label = v.name.empty() ? v.url : v.name + " " + v.url.substr(v.url.find("//") + 2);
    if (!v.up) {
      out << pad(label, 28) << pad("DOWN", 6) << v.error << "\n";
      continue;
    }
    out << pad(label, 28) << pad("up", 6) << pad(fixed(v.connections, 0), 7, true)
        << pad(fixed(v.msgs_per_s), 9, true) << pad(fixed(v.deliveries_per_s), 10, true)
        << pad(v.p99_delivery_ms < 0 ? "-" : fixed(v.p99_delivery_ms, 2) + "ms", 10, true)
        << pad(fixed(v.dropped_per_s), 10, true) << pad(fixed(v.rate_limited_per_s), 10, true)
        << pad(fixed(v.channels_active, 0), 9, true) << pad(fixed(v.live_nodes, 0), 10, true)
        << "\n";
  }
  out << "\nBUSIEST CHANNELS\n"
      << pad("node", 12) << pad("channel", 12) << pad("msgs/s", 9, true)
      << pad("online", 8, true) << "\n";
  size_t rows = 0;
  for (auto& v : views)
    for (auto& c : v.channels) {
      if (rows++ >= 10 * views.size())
        break;
      out << pad(v.name, 12) << pad(c.channel, 12) << pad(fixed(c.msgs_per_s), 9, true)
          << pad(fixed(c.online, 0), 8, true) << "\n";
    }
  if (rows == 0)
    out << "(no active channels)\n";
  out << "\nACTORS\n"
      << pad("node", 12) << pad("kind", 15) << pad("live", 7, true)
      << pad("processed/s", 12, true) << pad("mailbox", 8, true) << pad("deepest", 8, true)
      << pad("high-water", 10, true) << "\n";
  for (auto& v : views)
    for (auto& k : v.kinds)
      out << pad(v.name, 12) << pad(k.kind, 15) << pad(fixed(k.live, 0), 7, true)
          << pad(fixed(k.processed_per_s), 12, true) << pad(fixed(k.mailbox, 0), 8, true)
          << pad(fixed(k.mailbox_max, 0), 8, true) << pad(fixed(k.high_water, 0), 10, true)
          << "\n";
  bool any_circuit =
    std::any_of(views.begin(), views.end(), [](auto& v) { return !v.circuits.empty(); });
  if (any_circuit) {
    out << "\nCIRCUITS (deliveries to peers)\n"
        << pad("node", 12) << pad("peer", 12) << pad("state", 10)
        << pad("deadline misses", 16, true) << pad("skipped", 10, true) << "\n";
    for (auto& v : views)
      for (auto& c : v.circuits)
        out << pad(v.name, 12) << pad(c.peer, 12) << pad(circuit_name(c.state), 10)
            << pad(fixed(c.misses, 0), 16, true) << pad(fixed(c.skipped, 0), 10, true) << "\n";
  }
  bool any_busiest =
    std::any_of(views.begin(), views.end(), [](auto& v) { return !v.busiest.empty(); });
  if (any_busiest) {
    out << "\nDEEPEST MAILBOXES\n"
        << pad("node", 12) << pad("kind", 15) << pad("id", 16) << pad("mailbox", 8, true)
        << pad("processed", 10, true) << "\n";
    for (auto& v : views)
      for (auto& a : v.busiest)
        out << pad(v.name, 12) << pad(a.kind, 15) << pad(a.id, 16)
            << pad(fixed(a.mailbox, 0), 8, true) << pad(fixed(a.processed, 0), 10, true) << "\n";
  }
  return out.str();
}

json render_json(const std::vector<node_view>& views, int interval_ms) {
  json nodes = json::array();
  for (auto& v : views) {
    json n{{"url", v.url}, {"name", v.name}, {"up", v.up}};
    if (!v.up) {
      n["error"] = v.error;
      nodes.push_back(std::move(n));
      continue;
    }
    n["connections"] = v.connections;
    n["msgs_per_s"] = v.msgs_per_s;
    n["pushed_per_s"] = v.deliveries_per_s;
    n["p99_delivery_ms"] = v.p99_delivery_ms < 0 ? json(nullptr) : json(v.p99_delivery_ms);
    n["dropped_per_s"] = v.dropped_per_s;
    n["rate_limited_per_s"] = v.rate_limited_per_s;
    n["channels_active"] = v.channels_active;
    n["live_nodes"] = v.live_nodes;
    n["channels"] = json::array();
    for (auto& c : v.channels)
      n["channels"].push_back({{"channel", c.channel}, {"msgs_per_s", c.msgs_per_s},
                               {"online", c.online}});
    n["actors"] = json::array();
    for (auto& k : v.kinds)
      n["actors"].push_back({{"kind", k.kind}, {"live", k.live},
                             {"processed_per_s", k.processed_per_s}, {"mailbox", k.mailbox},
                             {"mailbox_max", k.mailbox_max}, {"high_water", k.high_water}});
    n["circuits"] = json::array();
    for (auto& c : v.circuits)
      n["circuits"].push_back({{"peer", c.peer}, {"state", circuit_name(c.state)},
                               {"deadline_misses", c.misses}, {"skipped", c.skipped}});
    if (!v.busiest.empty()) {
      n["deepest_mailboxes"] = json::array();
      for (auto& a : v.busiest)
        n["deepest_mailboxes"].push_back({{"kind", a.kind}, {"id", a.id},
                                          {"mailbox", a.mailbox}, {"processed", a.processed}});
    }
    nodes.push_back(std::move(n));
  }
  return json{{"interval_ms", interval_ms}, {"nodes", std::move(nodes)}};
}

} // namespace

std::map<std::string, std::vector<prom_sample>> parse_prometheus(const std::string& text) {
  std::map<std::string, std::vector<prom_sample>> out;
  std::istringstream in{text};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    prom_sample s;
    std::string name;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos)
      continue;
    name = line.substr(0, pos);
    if (line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        auto eq = line.find('=', pos);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"')
          break;
        auto key = line.substr(pos, eq - pos);
        std::string raw;
        size_t i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size())
            raw += line[i++];
          raw += line[i];
        }
        s.labels[key] = unescape_label(raw);
        pos = i + 1;
        if (pos < line.size() && line[pos] == ',')
          ++pos;
      }
      pos = line.find(' ', pos);
      if (pos == std::string::npos)
        continue;
    }
    auto rest = line.substr(pos + 1);
    auto sp = rest.find(' '); // an optional timestamp follows
    auto val = rest.substr(0, sp);
    if (val == "+Inf")
      s.value = std::numeric_limits<double>::infinity();
    else if (val == "-Inf")
      s.value = -std::numeric_limits<double>::infinity();
    else
      s.value = std::strtod(val.c_str(), nullptr);
    out[name].push_back(std::move(s));
  }
  return out;
}

double histogram_quantile(double q, const std::vector<std::pair<double, double>>& buckets) {
  if (buckets.empty())
    return -1;
  double total = buckets.back().second;
  if (total <= 0)
    return -1;
  double rank = q * total;
  double prev_bound = 0, prev_count = 0;
  for (auto& [bound, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(bound))
        return prev_bound; // beyond the last finite bound: report that bound
      double in_bucket = count - prev_count;
      if (in_bucket <= 0)
        return bound;
      return prev_bound + (bound - prev_bound) * (rank - prev_count) / in_bucket;
    }
    prev_bound = bound;
    prev_count = count;
  }
  return prev_bound;
}

int run_inspect(const std::vector<std::string>& args) {
  std::vector<std::string> nodes;
  bool once = false, as_json = false;
  int interval_ms = 1000;
  const char* env_token = std::getenv("PARLEY_ADMIN_TOKEN");
  std::string admin_token = env_token ? env_token : "";
  pc::tls_options tls;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i], value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto need = [&]() -> std::string {
      if (has_value)
        return value;
      if (i + 1 >= args.size())
        throw std::runtime_error("flag " + name + " needs a value");
      return args[++i];
    };
    if (name == "--node")
      nodes.push_back(need());
    else if (name == "--once")
      once = true;
    else if (name == "--json")
      as_json = true;
    else if (name == "--admin-token")
      admin_token = need();
    else if (name == "--cacert")
      tls.ca_file = need();
    else if (name == "--interval-ms") {
      auto v = need();
      if (v.empty() || v.size() > 7 || v.find_first_not_of("0123456789") != std::string::npos
          || std::stoi(v) < 100)
        throw std::runtime_error("bad --interval-ms '" + v + "' (expected at least 100)");
      interval_ms = std::stoi(v);
    } else
      throw std::runtime_error("unknown flag " + name + " for 'inspect' (see parley help)");
  }
  if (nodes.empty())
    nodes.push_back("http://127.0.0.1:8080");
  for (auto& n : nodes)
    while (!n.empty() && n.back() == '/')
      n.pop_back();
  auto scrape_all = [&] {
    std::vector<scrape> out;
    for (auto& n : nodes)
      out.push_back(take_scrape(n, admin_token, tls));
    return out;
  };
  auto previous = scrape_all();
  if (once) {
    // A dead node fails a snapshot at once: one line, non-zero exit.
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!previous[i].up)
        throw std::runtime_error("node " + nodes[i] + " is unreachable: " + previous[i].error);
  }
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
    auto current = scrape_all();
    std::vector<node_view> views;
    for (size_t i = 0; i < nodes.size(); ++i)
      views.push_back(make_view(nodes[i], previous[i], current[i]));
    if (once) {
      for (size_t i = 0; i < nodes.size(); ++i)
        if (!current[i].up)
          throw std::runtime_error("node " + nodes[i] + " is unreachable: " + current[i].error);
      if (as_json)
        std::cout << render_json(views, interval_ms).dump(2) << std::endl;
      else
        std::cout << render_table(views, interval_ms) << std::flush;
      return 0;
    }
    if (as_json)
      std::cout << render_json(views, interval_ms).dump() << std::endl;
    else
      std::cout << "\x1b[H\x1b[2J" << render_table(views, interval_ms) << std::flush;
    previous = std::move(current);
  }
}

} // namespace parley::tools
