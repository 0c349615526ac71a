#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <nlohmann/json.hpp>

namespace parley::bench {

/// Record types on the pipes between the parent and its forked workers.
enum class record : uint32_t {
  // parent -> worker
  start = 1,     // JSON: room, user_base, workers
  flush,         // u64 k: report message k now, complete or not
  quit,          // stop, send final_stats, exit
  go,            // JSON: start_ns, end_ns of throughput's common send window
  // worker -> parent
  progress,      // JSON: ready, failed, pending (connect phase and closes)
  connected,     // JSON: the worker's connect report
  settled,       // JSON: settled flag
  done,          // done_header + int64 latencies (ns) of message k
  final_stats,   // JSON: counters, frames by kind, close reasons, CPU
  samples,       // throughput latency samples (encode_samples), sent before final_stats
};

/// One record: type and body.
struct pipe_record {
  record type;
  std::string body;
};

/// Fixed part of a `done` record; the latencies follow.
struct done_header {
  uint64_t k = 0;
  uint64_t expected = 0;       // the worker's ready clients when it reported
  uint64_t received = 0;
  int64_t last_recv_ns = 0;
};

/// Writes one record; blocking, the reader drains continuously. False when the peer is gone.
bool write_record(int fd, record type, std::string_view body);

/// Reads one record, blocking; nullopt at end of file.
std::optional<pipe_record> read_record(int fd);

/// Reassembles records from a byte stream.
class record_reader {
public:
  void feed(const char* data, size_t n) { buf_.append(data, n); }
  std::optional<pipe_record> next();

private:
  std::string buf_;
  size_t pos_ = 0;
};

/// Reads records from one fd on an io_context and hands them to a callback; `on_eof` runs once.
class record_stream {
public:
  record_stream(boost::asio::io_context& io, int fd, std::function<void(pipe_record)> on_record,
                std::function<void()> on_eof);
  void start();
  void close();

private:
  void read();
  boost::asio::posix::stream_descriptor sd_;
  record_reader reader_;
  std::array<char, 1 << 16> chunk_{};
  std::function<void(pipe_record)> on_record_;
  std::function<void()> on_eof_;
};

/// A worker's pipe ends as its body sees them.
struct worker_pipes {
  int cmd_fd = -1;     // records from the parent
  int report_fd = -1;  // records to the parent
};

/// Half-open range of global client indices.
struct slice {
  size_t first = 0, count = 0;
};

/// Splits [first, total) into `n` nearly equal slices.
std::vector<slice> split(size_t first, size_t total, size_t n);

/// The parent's view of its workers: forked before any io_context or socket exists; their
/// reports are read on the parent's io_context, so the parent's fleet loop drives both.
class worker_pool {
public:
  using body = std::function<int(size_t index, slice s, worker_pipes p)>;

  /// Forks one worker per slice; a child runs `fn` and _exits with its result.
  worker_pool(const std::vector<slice>& slices, const body& fn);
  ~worker_pool();
  worker_pool(const worker_pool&) = delete;
  worker_pool& operator=(const worker_pool&) = delete;

  size_t size() const { return workers_.size(); }

  /// Starts reading reports on `io` (call once, after fork, in the parent).
  void attach(boost::asio::io_context& io);

  /// Stops reading and runs the cancelled reads; call before `io` is destroyed.
  void detach();

  void broadcast(record type, std::string_view body);

  /// Sums of the latest progress reports.
  size_t ready() const;
  size_t failed() const;
  size_t pending() const;
  /// Workers that exited or closed their pipe early.
  size_t lost() const { return lost_; }

  bool all_connected() const { return count_set(&worker::connected) == live(); }
  bool all_settled() const { return count_set(&worker::settled) == live(); }
  bool all_final() const { return count_set(&worker::final_stats) == live(); }
  /// Every live worker reported message k.
  bool all_done(uint64_t k) const;

  const std::vector<nlohmann::json> connected_reports() const {
    return collect(&worker::connected);
  }
  const std::vector<nlohmann::json> settled_reports() const { return collect(&worker::settled); }
  const std::vector<nlohmann::json> final_reports() const { return collect(&worker::final_stats); }

  /// The `samples` records received so far, removed from the pool.
  std::vector<std::string> take_samples();

  /// The `done` reports of message k (header + latencies), removed from the pool.
  std::vector<std::pair<done_header, std::vector<int64_t>>> take_done(uint64_t k);

  /// Closes the command pipes (workers exit on EOF) and waits for them, killing stragglers
  /// after `grace`.
  void reap(std::chrono::milliseconds grace);

private:
  struct worker {
    pid_t pid = -1;
    int cmd_fd = -1, report_fd = -1;
    bool alive = true;
    nlohmann::json progress;
    std::optional<nlohmann::json> connected, settled, final_stats;
    std::map<uint64_t, std::pair<done_header, std::vector<int64_t>>> done;
    std::vector<std::string> samples;
    std::unique_ptr<record_stream> stream;
  };
  void on_record(size_t w, pipe_record r);
  size_t live() const;
  size_t count_set(std::optional<nlohmann::json> worker::*field) const;
  std::vector<nlohmann::json> collect(std::optional<nlohmann::json> worker::*field) const;
  size_t sum_progress(const char* key) const;

  std::vector<worker> workers_;
  boost::asio::io_context* io_ = nullptr;
  size_t lost_ = 0;
};

} // namespace parley::bench
