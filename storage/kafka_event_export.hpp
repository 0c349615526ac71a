#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/expected.hpp>

#include "storage/event_export.hpp"

namespace parley::storage {

/// Settings of the Kafka export (`--kafka.*`).
struct kafka_export_config {
  std::string brokers;                         // bootstrap.servers
  std::string topic = "parley.messages";       // messages, keyed by channel id
  std::string presence_topic = "parley.presence"; // presence transitions, keyed by "W:U"
  /// Extra librdkafka properties (security.protocol, sasl.*, ssl.*, message.timeout.ms, ...).
  std::vector<std::pair<std::string, std::string>> properties;
  uint32_t batch = 500;                        // messages read from the log per round
  std::chrono::milliseconds idle_poll{100};    // log poll interval when nothing is new
  size_t presence_queue = 100000;              // presence events kept while Kafka is slow
};

/// Counters of an exporter (also mirrored into the node's counters when given).
struct kafka_export_counters {
  std::atomic<uint64_t>* errors = nullptr;   // failed deliveries, log reads, broker errors
  std::atomic<uint64_t>* exported = nullptr; // messages acknowledged by Kafka
};

/// Tails the durable log into Kafka with an idempotent producer (acks=all), on its own
/// thread. Messages with seq > the stream's cursor are published in seq order per channel,
/// keyed by channel id; the cursor (export_log, durable) advances only after the delivery
/// report, so the export is at-least-once: consumers dedup by (workspace, channel, seq).
/// A Kafka outage delays the export; delivery to clients never waits for it.
class kafka_event_export final : public event_export {
public:
  /// Validates the configuration and starts the exporter thread, which owns `log`.
  static caf::expected<std::unique_ptr<kafka_event_export>>
  start(kafka_export_config cfg, std::unique_ptr<export_log> log,
        kafka_export_counters counters = {});

  /// Stops the thread; messages not yet acknowledged are exported again after a restart.
  ~kafka_event_export() override;

  kafka_event_export(const kafka_event_export&) = delete;
  kafka_event_export& operator=(const kafka_event_export&) = delete;

  void presence(presence_event ev) override;

  /// Messages acknowledged by Kafka since start.
  uint64_t exported() const;

  /// Errors since start (failed deliveries, log reads, broker errors).
  uint64_t errors() const;

  /// Presence events acknowledged by Kafka since start.
  uint64_t presence_exported() const;

private:
  struct impl;
  explicit kafka_event_export(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace parley::storage
