#include "actors/peer_circuits.hpp"

namespace parley {

bool peer_circuit::admits() {
  if (state() == circuit_breaker::state::closed)
    return true;
  ++skipped_;
  return false;
}

void peer_circuit::asking(circuit_breaker::time_point at) {
  asked_.store(at.time_since_epoch().count(), std::memory_order_release);
}

bool peer_circuit::slow(circuit_breaker::time_point now,
                        circuit_breaker::duration deadline) const {
  if (slow())
    return true;
  auto asked = asked_.load(std::memory_order_acquire);
  return asked != 0 && now.time_since_epoch() - circuit_breaker::duration{asked} > deadline;
}

circuit_breaker::verdict peer_circuit::attempt(circuit_breaker::time_point now) {
  if (state() == circuit_breaker::state::closed)
    return circuit_breaker::verdict::send; // what the breaker answers when closed
  std::lock_guard<std::mutex> guard{mtx_};
  auto v = breaker_.attempt(now);
  if (v == circuit_breaker::verdict::probe)
    ++probes_;
  publish();
  return v;
}

void peer_circuit::confirmed(circuit_breaker::time_point now, bool late) {
  last_progress_.store(now.time_since_epoch().count(), std::memory_order_release);
  asked_.store(0, std::memory_order_release);
  slow_.store(late, std::memory_order_release);
  if (late)
    misses_.fetch_add(1, std::memory_order_relaxed);
  if (clean_.load(std::memory_order_acquire))
    return; // closed without failures: nothing to reset
  std::lock_guard<std::mutex> guard{mtx_};
  breaker_.succeeded();
  publish();
}

void peer_circuit::unanswered(circuit_breaker::time_point asked, circuit_breaker::time_point now) {
  asked_.store(0, std::memory_order_release);
  if (last_progress() > asked)
    return; // it answered other deliveries since: busy, not dead
  std::lock_guard<std::mutex> guard{mtx_};
  ++failures_;
  breaker_.failed(now);
  publish();
}

circuit_breaker::time_point peer_circuit::next_probe() {
  std::lock_guard<std::mutex> guard{mtx_};
  return breaker_.next_probe();
}

peer_circuit_row peer_circuit::row(const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  return {peer,         breaker_.current(), breaker_.consecutive_failures(), misses_.load(),
          failures_,    skipped_.load(),    probes_.load()};
}

void peer_circuit::publish() {
  auto s = breaker_.current();
  clean_.store(s == circuit_breaker::state::closed && breaker_.consecutive_failures() == 0,
               std::memory_order_release);
  state_.store(s, std::memory_order_release);
}

std::shared_ptr<peer_circuit> peer_circuits::of(const std::string& peer, uint32_t threshold,
                                                circuit_breaker::duration probe_interval) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto& c = peers_[peer];
  if (!c)
    c = std::make_shared<peer_circuit>(threshold, probe_interval);
  return c;
}

circuit_breaker::state peer_circuits::state_of(const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = peers_.find(peer);
  return i == peers_.end() ? circuit_breaker::state::closed : i->second->state();
}

std::vector<peer_circuit_row> peer_circuits::snapshot() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<peer_circuit_row> rows;
  rows.reserve(peers_.size());
  for (auto& [name, c] : peers_)
    rows.push_back(c->row(name));
  return rows;
}

} // namespace parley
