#include "tools/bench/workers.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace parley::bench {

namespace {

struct record_head {
  uint32_t type;
  uint32_t size;
};

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

} // namespace

bool write_record(int fd, record type, std::string_view body) {
  record_head h{static_cast<uint32_t>(type), static_cast<uint32_t>(body.size())};
  return write_all(fd, reinterpret_cast<const char*>(&h), sizeof h)
         && write_all(fd, body.data(), body.size());
}

std::optional<pipe_record> read_record(int fd) {
  record_head h{};
  if (!read_all(fd, reinterpret_cast<char*>(&h), sizeof h))
    return std::nullopt;
  pipe_record r{static_cast<record>(h.type), std::string(h.size, '\0')};
  if (!read_all(fd, r.body.data(), h.size))
    return std::nullopt;
  return r;
}

std::optional<pipe_record> record_reader::next() {
  if (buf_.size() - pos_ < sizeof(record_head)) {
    buf_.erase(0, pos_);
    pos_ = 0;
    return std::nullopt;
  }
  record_head h{};
  std::memcpy(&h, buf_.data() + pos_, sizeof h);
  if (buf_.size() - pos_ - sizeof h < h.size)
    return std::nullopt;
  pipe_record r{static_cast<record>(h.type), buf_.substr(pos_ + sizeof h, h.size)};
  pos_ += sizeof h + h.size;
  return r;
}

record_stream::record_stream(boost::asio::io_context& io, int fd,
                             std::function<void(pipe_record)> on_record,
                             std::function<void()> on_eof)
  : sd_(io, fd), on_record_(std::move(on_record)), on_eof_(std::move(on_eof)) {
}

void record_stream::start() {
  read();
}

void record_stream::close() {
  boost::system::error_code ec;
  sd_.close(ec);  // cancels the pending read; its handler runs on the next poll
}

void record_stream::read() {
  sd_.async_read_some(boost::asio::buffer(chunk_), [this](boost::system::error_code ec, size_t n) {
    if (ec) {
      if (ec != boost::asio::error::operation_aborted && on_eof_) {
        auto f = std::move(on_eof_);
        on_eof_ = nullptr;
        f();
      }
      return;
    }
    reader_.feed(chunk_.data(), n);
    while (auto r = reader_.next())
      on_record_(std::move(*r));
    read();
  });
}

std::vector<slice> split(size_t first, size_t total, size_t n) {
  std::vector<slice> out;
  size_t left = total > first ? total - first : 0;
  for (size_t i = 0; i < n; ++i) {
    size_t count = left / (n - i);
    out.push_back({first, count});
    first += count;
    left -= count;
  }
  return out;
}

worker_pool::worker_pool(const std::vector<slice>& slices, const body& fn) {
  std::fflush(stdout);
  std::fflush(stderr);
  for (size_t i = 0; i < slices.size(); ++i) {
    int cmd[2], rep[2];
    if (::pipe(cmd) != 0 || ::pipe(rep) != 0)
      throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    pid_t pid = ::fork();
    if (pid < 0)
      throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      // The child keeps only its own pipe ends, so every worker sees EOF when the parent goes.
      for (auto& w : workers_) {
        ::close(w.cmd_fd);
        ::close(w.report_fd);
      }
      ::close(cmd[1]);
      ::close(rep[0]);
      int rc = 1;
      try {
        rc = fn(i, slices[i], worker_pipes{cmd[0], rep[1]});
      } catch (const std::exception& e) {
        std::fprintf(stderr, "parley-bench worker %zu: %s\n", i, e.what());
      }
      std::fflush(stderr);
      ::_exit(rc);
    }
    ::close(cmd[0]);
    ::close(rep[1]);
    worker w;
    w.pid = pid;
    w.cmd_fd = cmd[1];
    w.report_fd = rep[0];
    workers_.push_back(std::move(w));
  }
  // A worker that died must not kill the parent with SIGPIPE on the next command.
  ::signal(SIGPIPE, SIG_IGN);
}

worker_pool::~worker_pool() {
  reap(std::chrono::milliseconds(2000));
}

void worker_pool::attach(boost::asio::io_context& io) {
  io_ = &io;
  for (size_t i = 0; i < workers_.size(); ++i) {
    auto& w = workers_[i];
    w.stream = std::make_unique<record_stream>(
      io, w.report_fd, [this, i](pipe_record r) { on_record(i, std::move(r)); },
      [this, i] {
        auto& dead = workers_[i];
        if (dead.alive && !dead.final_stats) {
          dead.alive = false;
          ++lost_;
          std::fprintf(stderr, "\nparley-bench: worker %zu (pid %d) ended early\n", i,
                       static_cast<int>(dead.pid));
        }
      });
    w.stream->start();
  }
}

void worker_pool::broadcast(record type, std::string_view body) {
  for (auto& w : workers_)
    if (w.alive && w.cmd_fd >= 0)
      write_record(w.cmd_fd, type, body);
}

void worker_pool::on_record(size_t i, pipe_record r) {
  auto& w = workers_[i];
  auto parse = [&] { return nlohmann::json::parse(r.body, nullptr, false); };
  switch (r.type) {
    case record::progress: w.progress = parse(); break;
    case record::connected: w.connected = parse(); break;
    case record::settled: w.settled = parse(); break;
    case record::final_stats: w.final_stats = parse(); break;
    case record::samples: w.samples.push_back(std::move(r.body)); break;
    case record::done: {
      if (r.body.size() < sizeof(done_header))
        break;
      done_header h{};
      std::memcpy(&h, r.body.data(), sizeof h);
      size_t n = (r.body.size() - sizeof h) / sizeof(int64_t);
      std::vector<int64_t> lat(n);
      std::memcpy(lat.data(), r.body.data() + sizeof h, n * sizeof(int64_t));
      w.done[h.k] = {h, std::move(lat)};
      break;
    }
    default: break;
  }
}

size_t worker_pool::live() const {
  size_t n = 0;
  for (auto& w : workers_)
    n += w.alive ? 1 : 0;
  return n;
}

size_t worker_pool::count_set(std::optional<nlohmann::json> worker::*field) const {
  size_t n = 0;
  for (auto& w : workers_)
    n += w.alive && (w.*field).has_value() ? 1 : 0;
  return n;
}

std::vector<nlohmann::json>
worker_pool::collect(std::optional<nlohmann::json> worker::*field) const {
  std::vector<nlohmann::json> out;
  for (auto& w : workers_)
    if ((w.*field).has_value())
      out.push_back(*(w.*field));
  return out;
}

size_t worker_pool::sum_progress(const char* key) const {
  size_t n = 0;
  for (auto& w : workers_)
    if (w.progress.is_object() && w.progress.contains(key))
      n += w.progress[key].get<size_t>();
  return n;
}

size_t worker_pool::ready() const { return sum_progress("ready"); }
size_t worker_pool::failed() const { return sum_progress("failed"); }
size_t worker_pool::pending() const { return sum_progress("pending"); }

bool worker_pool::all_done(uint64_t k) const {
  for (auto& w : workers_)
    if (w.alive && !w.done.count(k))
      return false;
  return true;
}

std::vector<std::string> worker_pool::take_samples() {
  std::vector<std::string> out;
  for (auto& w : workers_) {
    for (auto& s : w.samples)
      out.push_back(std::move(s));
    w.samples.clear();
  }
  return out;
}

std::vector<std::pair<done_header, std::vector<int64_t>>> worker_pool::take_done(uint64_t k) {
  std::vector<std::pair<done_header, std::vector<int64_t>>> out;
  for (auto& w : workers_) {
    auto it = w.done.find(k);
    if (it != w.done.end()) {
      out.push_back(std::move(it->second));
      w.done.erase(it);
    }
  }
  return out;
}

void worker_pool::detach() {
  for (auto& w : workers_)
    if (w.stream) {
      w.stream->close();
      w.report_fd = -1;  // closed with the stream
    }
  if (io_) {
    io_->restart();
    io_->poll();
  }
  for (auto& w : workers_)
    w.stream.reset();
  io_ = nullptr;
}

void worker_pool::reap(std::chrono::milliseconds grace) {
  for (auto& w : workers_) {
    // Never destroy a stream whose io_context may be gone (detach() is the clean way).
    if (w.stream) {
      (void) w.stream.release();
      w.report_fd = -1;
    }
    if (w.cmd_fd >= 0)
      ::close(w.cmd_fd);
    if (w.report_fd >= 0)
      ::close(w.report_fd);
    w.cmd_fd = w.report_fd = -1;
  }
  auto until = std::chrono::steady_clock::now() + grace;
  for (auto& w : workers_) {
    if (w.pid <= 0)
      continue;
    int status = 0;
    while (::waitpid(w.pid, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= until) {
        ::kill(w.pid, SIGKILL);
        ::waitpid(w.pid, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    w.pid = -1;
  }
}

} // namespace parley::bench
