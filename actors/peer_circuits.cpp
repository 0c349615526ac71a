#include "actors/peer_circuits.hpp"

namespace parley {

circuit_breaker::verdict peer_circuits::attempt(const std::string& peer,
                                                circuit_breaker::time_point now,
                                                uint32_t threshold,
                                                circuit_breaker::duration probe_interval) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = peers_.find(peer);
  if (i == peers_.end())
    i = peers_.emplace(peer, entry{circuit_breaker{threshold, probe_interval}}).first;
  auto v = i->second.breaker.attempt(now);
  if (v == circuit_breaker::verdict::skip)
    ++i->second.skipped;
  else if (v == circuit_breaker::verdict::probe)
    ++i->second.probes;
  return v;
}

void peer_circuits::succeeded(const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = peers_.find(peer); i != peers_.end())
    i->second.breaker.succeeded();
}

void peer_circuits::failed(const std::string& peer, circuit_breaker::time_point now) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = peers_.find(peer); i != peers_.end()) {
    ++i->second.misses;
    i->second.breaker.failed(now);
  }
}

circuit_breaker::time_point peer_circuits::next_probe(const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = peers_.find(peer);
  return i == peers_.end() ? circuit_breaker::time_point{} : i->second.breaker.next_probe();
}

circuit_breaker::state peer_circuits::state_of(const std::string& peer) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = peers_.find(peer);
  return i == peers_.end() ? circuit_breaker::state::closed : i->second.breaker.current();
}

std::vector<peer_circuit_row> peer_circuits::snapshot() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<peer_circuit_row> rows;
  rows.reserve(peers_.size());
  for (auto& [name, e] : peers_)
    rows.push_back(peer_circuit_row{name, e.breaker.current(), e.breaker.consecutive_failures(),
                                    e.misses, e.skipped, e.probes});
  return rows;
}

} // namespace parley
