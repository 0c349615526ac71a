#include "actors/actor_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace parley {

namespace {

constexpr std::array<const char*, actor_kind_count> kind_names = {
  "connection", "channel", "channel_stub", "gateway", "presence", "group_commit", "storage_worker"};

/// Handler and delivery times: 10 µs .. 5 s.
std::vector<double> latency_bounds() {
  return {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,    0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
}

/// Group commit batches: 1 .. the largest configured batch.
std::vector<double> batch_bounds() {
  return {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000};
}

/// Per hot channel fan-out: few buckets, the family has at most K label sets.
std::vector<double> fanout_bounds() {
  return {0.00001, 0.0001, 0.001, 0.01, 0.1, 1};
}

prometheus::ClientMetric::Label label(const char* name, std::string value) {
  return prometheus::ClientMetric::Label{name, std::move(value)};
}

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

prometheus::ClientMetric gauge_sample(double value,
                                      std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.gauge.value = value;
  return m;
}

prometheus::ClientMetric counter_sample(double value,
                                        std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  return m;
}

void raise_to(std::atomic<uint64_t>& x, uint64_t value) noexcept {
  auto cur = x.load(std::memory_order_relaxed);
  while (value > cur && !x.compare_exchange_weak(cur, value, std::memory_order_relaxed)) {
  }
}

} // namespace

const char* to_string(actor_kind kind) {
  return kind_names[static_cast<size_t>(kind)];
}

bool parse_actor_kind(const std::string& text, actor_kind& kind) {
  for (size_t i = 0; i < actor_kind_count; ++i)
    if (text == kind_names[i]) {
      kind = static_cast<actor_kind>(i);
      return true;
    }
  return false;
}

int64_t steady_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

// -- atomic_histogram ----------------------------------------------------------------------

atomic_histogram::atomic_histogram(std::vector<double> bounds)
  : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i)
    buckets_[i].store(0, std::memory_order_relaxed);
}

void atomic_histogram::observe(double value) noexcept {
  auto i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value)
                               - bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  auto sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
  count_.fetch_add(1, std::memory_order_relaxed);
}

prometheus::ClientMetric
atomic_histogram::collect(std::vector<prometheus::ClientMetric::Label> labels) const {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    prometheus::ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  // The count is the +Inf bucket, so buckets and count agree within one scrape.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = sum_.load(std::memory_order_relaxed);
  return m;
}

// -- actor_metrics -------------------------------------------------------------------------

actor_metrics::actor_metrics(size_t hot_channels)
  : delivery_latency(latency_bounds()),
    commit_batch(batch_bounds()),
    commit_seconds(latency_bounds()),
    registry_(std::make_shared<prometheus::Registry>()),
    hot_k_(hot_channels) {
  auto& live =
    prometheus::BuildGauge()
      .Name("parley_actors_live")
      .Help("Live actors by kind (+1 when an actor's state is built, -1 when destroyed).")
      .Register(*registry_);
  auto& processed = prometheus::BuildCounter()
                      .Name("parley_actor_messages_processed_total")
                      .Help("Messages handled by actors of each kind.")
                      .Register(*registry_);
  for (size_t i = 0; i < actor_kind_count; ++i) {
    auto& k = kinds_[i];
    k.live = &live.Add({{"kind", kind_names[i]}});
    k.processed = &processed.Add({{"kind", kind_names[i]}});
    k.handler_seconds = std::make_unique<atomic_histogram>(latency_bounds());
  }
  auto counter = [&](const char* name, const char* help) {
    return &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  };
  connections_accepted =
    counter("parley_connections_accepted_total", "WebSocket upgrades accepted.");
  auto& rejected = prometheus::BuildCounter()
                     .Name("parley_connections_refused_total")
                     .Help("WebSocket upgrades refused, by reason (capacity: at the connection "
                           "cap; unauthorized: bad or missing token; bad_request).")
                     .Register(*registry_);
  rejected_capacity = &rejected.Add({{"reason", "capacity"}});
  rejected_unauthorized = &rejected.Add({{"reason", "unauthorized"}});
  rejected_bad_request = &rejected.Add({{"reason", "bad_request"}});
  backfill_requests = counter("parley_backfill_requests_total",
                              "Backfill requests answered by channels owned here.");
  backfill_rows = counter("parley_backfill_rows_total",
                          "Messages returned by backfill requests of channels owned here.");
  internode_failures =
    counter("parley_internode_delivery_failures_total",
            "Requests forwarded to another node that failed (owner unreachable or gone).");
  presence_transitions = counter("parley_presence_transitions_total",
                                 "Presence changes of users on this node (online, away, offline).");
  dropped_frames = counter("parley_dropped_frames_total",
                           "message.new frames dropped for slow consumers (outbound queue full).");
}

actor_metrics::~actor_metrics() = default;

void actor_metrics::track(actor_stats* stats) {
  std::lock_guard<std::mutex> guard{live_mtx_};
  live_[stats->actor] = stats;
}

void actor_metrics::untrack(actor_stats* stats) {
  std::lock_guard<std::mutex> guard{live_mtx_};
  auto i = live_.find(stats->actor);
  if (i != live_.end() && i->second == stats)
    live_.erase(i);
}

std::vector<actor_row> actor_metrics::list(const actor_kind* kind, size_t offset, size_t limit,
                                           size_t& total) {
  std::vector<actor_row> rows;
  {
    std::lock_guard<std::mutex> guard{live_mtx_};
    rows.reserve(kind ? 0 : live_.size());
    for (auto& [aid, s] : live_)
      if (!kind || s->kind == *kind)
        rows.push_back(actor_row{s->kind, s->id, aid, s->mailbox.load(std::memory_order_relaxed),
                                 s->processed.load(std::memory_order_relaxed)});
  }
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.actor < b.actor; });
  total = rows.size();
  if (offset >= rows.size())
    return {};
  auto end = std::min(rows.size(), offset + limit);
  return std::vector<actor_row>(rows.begin() + offset, rows.begin() + end);
}

std::vector<prometheus::MetricFamily> actor_metrics::collect() {
  using prometheus::MetricType;
  auto out = registry_->Collect();
  // Mailbox depth per kind: the sum and max over live actors of their last sample.
  std::array<uint64_t, actor_kind_count> depth_sum{};
  std::array<uint64_t, actor_kind_count> depth_max{};
  struct channel_sample {
    uint64_t actor;
    std::string id;
    uint64_t messages;
    uint32_t online;
    double rate = 0;
    prometheus::ClientMetric fanout;
  };
  std::vector<channel_sample> channels;
  auto now = steady_ns();
  {
    std::lock_guard<std::mutex> guard{live_mtx_};
    for (auto& [aid, s] : live_) {
      auto k = static_cast<size_t>(s->kind);
      auto d = s->mailbox.load(std::memory_order_relaxed);
      depth_sum[k] += d;
      depth_max[k] = std::max<uint64_t>(depth_max[k], d);
      if (s->kind == actor_kind::channel)
        channels.push_back(channel_sample{aid, s->id, s->messages.load(std::memory_order_relaxed),
                                          s->online.load(std::memory_order_relaxed), 0,
                                          prometheus::ClientMetric{}});
    }
  }
  auto depth = family("parley_actor_mailbox_depth",
                      "Messages waiting in the mailboxes of live actors of each kind (sum of the "
                      "depths sampled at each actor's last handler entry).",
                      MetricType::Gauge);
  auto depth_top = family("parley_actor_mailbox_depth_max",
                          "The deepest mailbox among live actors of each kind (last samples).",
                          MetricType::Gauge);
  auto hwm = family("parley_actor_mailbox_high_water",
                    "The deepest mailbox ever sampled for an actor of each kind since start.",
                    MetricType::Gauge);
  auto handler = family("parley_actor_handler_seconds",
                        "Time spent in message handlers, by actor kind.", MetricType::Histogram);
  for (size_t i = 0; i < actor_kind_count; ++i) {
    std::vector<prometheus::ClientMetric::Label> l{label("kind", kind_names[i])};
    depth.metric.push_back(gauge_sample(static_cast<double>(depth_sum[i]), l));
    depth_top.metric.push_back(gauge_sample(static_cast<double>(depth_max[i]), l));
    hwm.metric.push_back(
      gauge_sample(static_cast<double>(kinds_[i].high_water.load(std::memory_order_relaxed)), l));
    handler.metric.push_back(kinds_[i].handler_seconds->collect(l));
  }
  out.push_back(std::move(depth));
  out.push_back(std::move(depth_top));
  out.push_back(std::move(hwm));
  out.push_back(std::move(handler));
  auto node_hist = [&](const char* name, const char* help, const atomic_histogram& h) {
    auto f = family(name, help, MetricType::Histogram);
    f.metric.push_back(h.collect());
    out.push_back(std::move(f));
  };
  node_hist("parley_delivery_latency_seconds",
            "From a message's ack in its channel actor to the socket write of its message.new, "
            "per recipient connection on the owner node.",
            delivery_latency);
  node_hist("parley_group_commit_batch_size", "Messages per group commit.",
            commit_batch);
  node_hist("parley_group_commit_seconds", "Duration of one group commit.",
            commit_seconds);
  // Hot channels: msgs/s since the previous scrape (at least 1 s apart, else the previous
  // rates), top K only, so the label sets stay bounded whatever the number of channels.
  {
    std::lock_guard<std::mutex> guard{rate_mtx_};
    auto elapsed = last_scrape_ns_ == 0 ? 0.0 : (now - last_scrape_ns_) / 1e9;
    bool roll = last_scrape_ns_ == 0 || elapsed >= 1.0;
    std::unordered_map<uint64_t, uint64_t> next_messages;
    std::unordered_map<uint64_t, double> next_rates;
    for (auto& c : channels) {
      if (!roll) {
        auto r = last_rates_.find(c.actor);
        c.rate = r == last_rates_.end() ? 0.0 : r->second;
        continue;
      }
      auto prev = last_messages_.find(c.actor);
      if (prev != last_messages_.end() && elapsed > 0)
        c.rate = (c.messages - prev->second) / elapsed;
      next_messages.emplace(c.actor, c.messages);
      next_rates.emplace(c.actor, c.rate);
    }
    if (roll) {
      last_scrape_ns_ = now;
      last_messages_ = std::move(next_messages);
      last_rates_ = std::move(next_rates);
    }
  }
  auto k = std::min(hot_k_, channels.size());
  // Busiest first; ties (e.g. the first scrape) by total messages.
  std::partial_sort(channels.begin(), channels.begin() + k, channels.end(),
                    [](auto& a, auto& b) {
                      return a.rate != b.rate ? a.rate > b.rate : a.messages > b.messages;
                    });
  channels.resize(k);
  auto rate = family("parley_hot_channel_msgs_per_second",
                     "Messages per second of the K busiest channels owned here (since the "
                     "previous scrape).",
                     MetricType::Gauge);
  auto total = family("parley_hot_channel_messages_total",
                      "Messages acked by each of the K busiest channels since activation.",
                      MetricType::Counter);
  auto online = family("parley_hot_channel_online_members",
                       "Online members of each of the K busiest channels.", MetricType::Gauge);
  auto fanout = family("parley_hot_channel_fanout_seconds",
                       "Time a hot channel's actor spends fanning one message out to the node "
                       "gateways (encode + one delivery per node).",
                       MetricType::Histogram);
  {
    // The fan-out histograms are read under the table's lock: the stats cannot go meanwhile.
    std::lock_guard<std::mutex> guard{live_mtx_};
    for (auto& c : channels) {
      std::vector<prometheus::ClientMetric::Label> l{label("channel", c.id)};
      rate.metric.push_back(gauge_sample(c.rate, l));
      total.metric.push_back(counter_sample(static_cast<double>(c.messages), l));
      online.metric.push_back(gauge_sample(c.online, l));
      auto i = live_.find(c.actor);
      if (i != live_.end() && i->second->fanout)
        fanout.metric.push_back(i->second->fanout->collect(l));
    }
  }
  out.push_back(std::move(rate));
  out.push_back(std::move(total));
  out.push_back(std::move(online));
  out.push_back(std::move(fanout));
  return out;
}

// -- actor_slot / handler_probe ------------------------------------------------------------

actor_slot::actor_slot(metrics_ptr metrics, actor_kind kind, uint64_t actor, std::string id)
  : metrics_(std::move(metrics)) {
  if (!metrics_)
    return;
  family_ = &metrics_->of(kind);
  stats_ = std::make_unique<actor_stats>();
  stats_->kind = kind;
  stats_->id = std::move(id);
  stats_->actor = actor;
  stats_->started_ns = steady_ns();
  if (kind == actor_kind::channel)
    stats_->fanout = std::make_unique<atomic_histogram>(fanout_bounds());
  family_->live->Increment();
  metrics_->track(stats_.get());
}

actor_slot& actor_slot::operator=(actor_slot&& other) noexcept {
  if (this != &other) {
    release();
    metrics_ = std::move(other.metrics_);
    family_ = other.family_;
    stats_ = std::move(other.stats_);
    other.family_ = nullptr;
  }
  return *this;
}

actor_slot::~actor_slot() {
  release();
}

void actor_slot::release() {
  if (stats_ && metrics_) {
    metrics_->untrack(stats_.get());
    family_->live->Decrement();
  }
  stats_.reset();
  metrics_.reset();
  family_ = nullptr;
}

handler_probe::handler_probe(const actor_slot& slot, size_t mailbox) noexcept
  : stats_(slot.stats()), family_(slot.family()) {
  if (!stats_)
    return;
  stats_->mailbox.store(static_cast<uint32_t>(mailbox), std::memory_order_relaxed);
  raise_to(family_->high_water, mailbox);
  start_ns_ = steady_ns();
}

handler_probe::~handler_probe() {
  if (!stats_)
    return;
  auto took = (steady_ns() - start_ns_) / 1e9;
  stats_->processed.fetch_add(1, std::memory_order_relaxed);
  family_->processed->Increment();
  family_->handler_seconds->observe(took);
}

} // namespace parley
