#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

namespace parley {

/// The instrumented actor kinds (docs/architecture.md "Operators"); one label value each.
enum class actor_kind : uint8_t {
  connection,
  channel,
  channel_stub,
  gateway,
  presence,
  group_commit,
  storage_worker,
};

constexpr size_t actor_kind_count = 7;

/// The label value of a kind ("channel", ...).
const char* to_string(actor_kind kind);

/// Parses a label value; false if unknown.
bool parse_actor_kind(const std::string& text, actor_kind& kind);

/// Steady-clock nanoseconds: timestamps compared within one node only.
int64_t steady_ns();

/// A fixed-bucket histogram updated with relaxed atomics: no lock and no allocation per
/// observation (prometheus::Histogram takes a mutex on every Observe).
class atomic_histogram {
public:
  explicit atomic_histogram(std::vector<double> bounds);

  /// Records one observation.
  void observe(double value) noexcept;

  /// Observations so far.
  uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// A Prometheus histogram sample (cumulative buckets, +Inf last) with `labels`.
  prometheus::ClientMetric collect(std::vector<prometheus::ClientMetric::Label> labels = {}) const;

private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_; // bounds_.size() + 1, the last is +Inf
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

/// What the probe of one live actor updates, read by /metrics and /v1/admin/actors.
struct actor_stats {
  actor_kind kind = actor_kind::channel;
  std::string id; // channel id, connection id or the actor's name
  uint64_t actor = 0; // CAF actor id
  int64_t started_ns = 0;
  std::atomic<uint64_t> processed{0};
  std::atomic<uint32_t> mailbox{0}; // sampled at the last handler entry
  // Channels only: acked messages, online members, fan-out time of each message.
  std::atomic<uint64_t> messages{0};
  std::atomic<uint32_t> online{0};
  std::unique_ptr<atomic_histogram> fanout;
};

/// One row of GET /v1/admin/actors.
struct actor_row {
  actor_kind kind;
  std::string id;
  uint64_t actor;
  uint32_t mailbox;
  uint64_t processed;
};

/// The node-wide metrics registry (docs/architecture.md "Operators"), shared by the actors of a
/// node (actors/node_env.hpp). Hot-path figures are prometheus-cpp counters and gauges (atomics)
/// cached per kind, or atomic histograms; figures derived from the live-actor table (mailbox depth,
/// hot channels) are computed per scrape, so label cardinality stays bounded by the kinds and the
/// top K channels.
class actor_metrics {
public:
  /// Metrics of one actor kind, cached so a probe does no lookup.
  struct kind_metrics {
    prometheus::Gauge* live = nullptr;
    prometheus::Counter* processed = nullptr;
    std::atomic<uint64_t> high_water{0};
    std::unique_ptr<atomic_histogram> handler_seconds;
  };

  /// `hot_channels`: how many of the busiest channels get labelled series.
  explicit actor_metrics(size_t hot_channels = 10);
  ~actor_metrics();

  actor_metrics(const actor_metrics&) = delete;
  actor_metrics& operator=(const actor_metrics&) = delete;

  kind_metrics& of(actor_kind kind) { return kinds_[static_cast<size_t>(kind)]; }

  /// The prometheus-cpp registry (for adding families beside these).
  prometheus::Registry& registry() { return *registry_; }

  /// How many hot channels are labelled (top K by msgs/s).
  size_t hot_channels() const { return hot_k_; }

  // -- node figures (prometheus-cpp counters: atomic increments) ------------------------------
  prometheus::Counter* connections_accepted = nullptr;
  prometheus::Counter* rejected_capacity = nullptr;
  prometheus::Counter* rejected_unauthorized = nullptr;
  prometheus::Counter* rejected_bad_request = nullptr;
  prometheus::Counter* backfill_requests = nullptr;
  prometheus::Counter* backfill_rows = nullptr;
  prometheus::Counter* internode_failures = nullptr;
  prometheus::Counter* presence_transitions = nullptr;
  prometheus::Counter* dropped_frames = nullptr;
  // The per-peer circuit figures (parley_circuit_state{peer}, ...) are rendered per scrape
  // from the node's peer_circuits by runtime/metrics.cpp.

  atomic_histogram delivery_latency;   // seconds, ack -> socket write, per recipient
  atomic_histogram commit_batch;    // messages per commit
  atomic_histogram commit_seconds;   // seconds per commit

  // -- live actors ----------------------------------------------------------------------------

  /// Adds a live actor (the slot's constructor).
  void track(actor_stats* stats);

  /// Removes a live actor (the slot's destructor).
  void untrack(actor_stats* stats);

  /// Live actors, optionally of one kind, ordered by actor id, paged.
  std::vector<actor_row> list(const actor_kind* kind, size_t offset, size_t limit,
                              size_t& total);

  /// Everything of this registry as Prometheus families (registry + derived figures).
  std::vector<prometheus::MetricFamily> collect();

private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::array<kind_metrics, actor_kind_count> kinds_;
  size_t hot_k_;

  std::mutex live_mtx_;
  std::unordered_map<uint64_t, actor_stats*> live_; // by CAF actor id

  // Per-scrape rate state of channels: the message count at the previous scrape.
  std::mutex rate_mtx_;
  int64_t last_scrape_ns_ = 0;
  std::unordered_map<uint64_t, uint64_t> last_messages_;
  std::unordered_map<uint64_t, double> last_rates_;
};

using metrics_ptr = std::shared_ptr<actor_metrics>;

/// The RAII member of every *_state: counts the actor live while the state exists and
/// registers its stats for /v1/admin/actors. Default-constructed it does nothing.
class actor_slot {
public:
  actor_slot() = default;
  actor_slot(metrics_ptr metrics, actor_kind kind, uint64_t actor, std::string id);
  actor_slot(actor_slot&& other) noexcept = default;
  actor_slot& operator=(actor_slot&& other) noexcept;
  ~actor_slot();

  /// Null when not instrumented.
  actor_stats* stats() const { return stats_.get(); }
  actor_metrics* metrics() const { return metrics_.get(); }
  actor_metrics::kind_metrics* family() const { return family_; }

private:
  void release();

  metrics_ptr metrics_;
  actor_metrics::kind_metrics* family_ = nullptr;
  std::unique_ptr<actor_stats> stats_;
};

/// Measures one message handler: samples the mailbox at entry, counts the message and
/// observes the handler time at scope exit. Two clock reads and a few atomic adds.
class handler_probe {
public:
  handler_probe(const actor_slot& slot, size_t mailbox) noexcept;
  ~handler_probe();
  handler_probe(const handler_probe&) = delete;
  handler_probe& operator=(const handler_probe&) = delete;

private:
  actor_stats* stats_;
  actor_metrics::kind_metrics* family_;
  int64_t start_ns_ = 0;
};

/// The one line at the top of every handler: `auto probe = metrics_probe(self);`. `State`
/// has an `actor_slot slot` member, set up with the actor's kind by the behaviour function.
template <class State, class Base>
handler_probe metrics_probe(caf::stateful_actor<State, Base>* self) {
  auto& slot = self->state.slot;
  return handler_probe{slot, slot.stats() ? self->mailbox().size() : 0};
}

} // namespace parley
