#include "storage/kafka_event_export.hpp"

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include <librdkafka/rdkafka.h>

#include "storage/errors.hpp"

namespace parley::storage {

namespace {

/// The delivery state of one message of the batch in flight.
enum class delivery : uint8_t { pending, ok, failed };

} // namespace

struct kafka_event_export::impl {
  kafka_export_config cfg;
  std::unique_ptr<export_log> log;
  kafka_export_counters counters;
  rd_kafka_t* rk = nullptr;
  std::atomic<uint64_t> n_exported{0};
  std::atomic<uint64_t> n_errors{0};
  std::atomic<uint64_t> n_presence{0};

  // Shared with callers.
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  std::deque<presence_event> presence_queue;

  // Exporter thread only.
  std::vector<delivery> in_flight; // indexed by the opaque - 1 of each message
  size_t pending = 0;
  std::thread worker;

  ~impl() {
    {
      std::lock_guard<std::mutex> guard{mtx};
      stopping = true;
    }
    cv.notify_all();
    if (worker.joinable())
      worker.join();
    if (rk != nullptr) {
      // Unacknowledged messages are not lost: the cursor did not move past them.
      rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(rk, 0);
      rd_kafka_destroy(rk);
    }
  }

  void count_error() {
    ++n_errors;
    if (counters.errors != nullptr)
      ++*counters.errors;
  }

  bool stop_requested() {
    std::lock_guard<std::mutex> guard{mtx};
    return stopping;
  }

  /// Sleeps up to `d` unless stopping; returns false when stopping.
  bool idle(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock{mtx};
    cv.wait_for(lock, d, [&] { return stopping || !presence_queue.empty(); });
    return !stopping;
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* self = static_cast<impl*>(opaque);
    auto slot = reinterpret_cast<uintptr_t>(msg->_private);
    bool ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!ok)
      self->count_error();
    if (slot == 0) { // a presence event
      if (ok)
        ++self->n_presence;
      return;
    }
    if (slot - 1 < self->in_flight.size() && self->in_flight[slot - 1] == delivery::pending) {
      self->in_flight[slot - 1] = ok ? delivery::ok : delivery::failed;
      --self->pending;
    }
  }

  static void on_error(rd_kafka_t*, int, const char*, void* opaque) {
    // Broker down, all brokers down, ...: librdkafka retries by itself; count for /metrics.
    static_cast<impl*>(opaque)->count_error();
  }

  static void on_log(const rd_kafka_t*, int, const char*, const char*) {
    // Silenced: errors reach on_error and the counters.
  }

  caf::error create() {
    char err[512];
    auto* conf = rd_kafka_conf_new();
    auto set = [&](const std::string& key, const std::string& value) -> caf::error {
      if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err))
          != RD_KAFKA_CONF_OK)
        return make_error(errc::invalid, "kafka property " + key + ": " + err);
      return {};
    };
    std::vector<std::pair<std::string, std::string>> props{
      {"bootstrap.servers", cfg.brokers},
      {"enable.idempotence", "true"},
      {"acks", "all"},
      {"linger.ms", "5"},
    };
    props.insert(props.end(), cfg.properties.begin(), cfg.properties.end());
    for (auto& [k, v] : props)
      if (auto e = set(k, v)) {
        rd_kafka_conf_destroy(conf);
        return e;
      }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &on_delivery);
    rd_kafka_conf_set_error_cb(conf, &on_error);
    rd_kafka_conf_set_log_cb(conf, &on_log);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == nullptr) {
      rd_kafka_conf_destroy(conf);
      return make_error(errc::invalid, std::string("kafka producer: ") + err);
    }
    return {};
  }

  /// Produces one record, waiting while the local queue is full; false when stopping.
  bool produce(const std::string& topic, const std::string& key, const std::string& value,
               uintptr_t slot) {
    for (;;) {
      auto rc = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()),
                                  RD_KAFKA_V_KEY(key.data(), key.size()),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(slot)), RD_KAFKA_V_END);
      if (rc == RD_KAFKA_RESP_ERR_NO_ERROR)
        return true;
      if (rc != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        count_error();
        return slot == 0; // a presence event is skipped, a message batch stops here
      }
      rd_kafka_poll(rk, 100);
      if (stop_requested())
        return false;
    }
  }

  void send_presence() {
    std::deque<presence_event> events;
    {
      std::lock_guard<std::mutex> guard{mtx};
      events.swap(presence_queue);
    }
    for (auto& ev : events) {
      auto key = ev.who.workspace.str() + ":" + ev.who.user.str();
      if (!produce(cfg.presence_topic, key, export_json(ev), 0))
        return;
    }
  }

  /// Exports one batch read from the log; returns the number of rows read (0: idle).
  size_t export_round(workspace_id& from_w, channel_id& from_c) {
    auto batch = log->read_unexported(cfg.topic, from_w, from_c, cfg.batch);
    if (!batch) {
      count_error();
      return 0;
    }
    if (batch->empty()) {
      from_w = workspace_id{};
      from_c = channel_id{};
      return 0;
    }
    in_flight.assign(batch->size(), delivery::pending);
    pending = 0;
    for (size_t i = 0; i < batch->size(); ++i) {
      auto& msg = (*batch)[i];
      if (!produce(cfg.topic, msg.channel.str(), export_json(msg), i + 1)) {
        in_flight.resize(i); // never produced: neither pending nor delivered
        break;
      }
      ++pending;
    }
    // Wait for every delivery report of the batch (a Kafka outage waits here, on this
    // thread only). Presence events keep flowing meanwhile.
    while (pending > 0) {
      rd_kafka_poll(rk, 100);
      if (stop_requested())
        return batch->size();
      send_presence();
    }
    // Per channel, the cursor moves to the last seq before the first failure: the rest is
    // read and published again next round (at-least-once).
    std::map<std::pair<uint64_t, uint64_t>, export_cursor> advance;
    std::map<std::pair<uint64_t, uint64_t>, bool> blocked;
    uint64_t delivered = 0;
    for (size_t i = 0; i < in_flight.size(); ++i) {
      auto& msg = (*batch)[i];
      auto key = std::make_pair(msg.workspace.value, msg.channel.value);
      if (blocked[key])
        continue;
      if (in_flight[i] != delivery::ok) {
        blocked[key] = true;
        continue;
      }
      advance[key] = export_cursor{msg.workspace, msg.channel, msg.seq};
      ++delivered;
    }
    std::vector<export_cursor> cursors;
    for (auto& [k, c] : advance)
      cursors.push_back(c);
    if (auto err = log->advance_cursors(cfg.topic, cursors))
      count_error(); // exported again after a restart: duplicates, never a loss
    n_exported += delivered;
    if (counters.exported != nullptr)
      *counters.exported += delivered;
    if (delivered < batch->size()) {
      // Something failed: retry from the start after a pause.
      from_w = workspace_id{};
      from_c = channel_id{};
      idle(std::chrono::milliseconds(500));
    } else if (batch->size() < cfg.batch) {
      from_w = workspace_id{};
      from_c = channel_id{};
    } else {
      // Fairness: the next round starts after the last channel of this one.
      from_w = batch->back().workspace;
      from_c = batch->back().channel;
    }
    return batch->size();
  }

  void run() {
    workspace_id from_w;
    channel_id from_c;
    while (!stop_requested()) {
      send_presence();
      rd_kafka_poll(rk, 0);
      if (export_round(from_w, from_c) == 0 && !idle(cfg.idle_poll))
        return;
    }
  }
};

caf::expected<std::unique_ptr<kafka_event_export>>
kafka_event_export::start(kafka_export_config cfg, std::unique_ptr<export_log> log,
                          kafka_export_counters counters) {
  if (cfg.brokers.empty())
    return make_error(errc::invalid, "kafka: no brokers configured");
  if (cfg.topic.empty() || cfg.presence_topic.empty())
    return make_error(errc::invalid, "kafka: empty topic name");
  if (cfg.batch == 0)
    cfg.batch = 1;
  auto p = std::make_unique<impl>();
  p->cfg = std::move(cfg);
  p->log = std::move(log);
  p->counters = counters;
  if (auto err = p->create())
    return err;
  auto* raw = p.get();
  p->worker = std::thread([raw] { raw->run(); });
  return std::unique_ptr<kafka_event_export>{new kafka_event_export(std::move(p))};
}

kafka_event_export::kafka_event_export(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

kafka_event_export::~kafka_event_export() = default;

void kafka_event_export::presence(presence_event ev) {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    if (impl_->presence_queue.size() >= impl_->cfg.presence_queue) {
      impl_->presence_queue.pop_front(); // presence is a hint: drop the oldest
      impl_->count_error();
    }
    impl_->presence_queue.push_back(std::move(ev));
  }
  impl_->cv.notify_one();
}

uint64_t kafka_event_export::exported() const {
  return impl_->n_exported;
}

uint64_t kafka_event_export::errors() const {
  return impl_->n_errors;
}

uint64_t kafka_event_export::presence_exported() const {
  return impl_->n_presence;
}

} // namespace parley::storage
