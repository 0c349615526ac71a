#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tools/bench/fleet.hpp"
#include "tools/bench/latency.hpp"
#include "tools/bench/options.hpp"
#include "tools/bench/proc_stats.hpp"

namespace parley::bench {

using ojson = nlohmann::ordered_json;

/// First user number of this run: --user-base, or one derived from the clock so runs
/// against the same data dir do not share users (and their old channels).
uint64_t choose_user_base(const options& o);

/// The fleet settings from the command line.
fleet_config make_fleet_config(const options& o);

/// Connects the fleet, waits for setup traffic (presence) to calm down, prints the connect
/// figures and the node's RSS per connection; returns them as JSON.
ojson connect_phase(fleet& f, const options& o);

/// Adds the node's RSS per ready connection and its CPU over the connect phase to `j` and
/// prints them; nothing when either sample failed or no client is ready.
void report_node_memory(ojson& j, const node_sample& before, const node_sample& after,
                        size_t ready);

/// Whether a hello_ack frame lists `channel` in its `channels` map.
bool hello_ack_lists(std::string_view hello_ack, const std::string& channel);

/// CPU seconds (user + system) this process used so far.
double self_cpu_s();

/// Node CPU over a measured phase; cpu_us_per_delivery when deliveries > 0.
ojson node_cost(const options& o, const node_sample& before, const node_sample& after,
                uint64_t deliveries, double bench_cpu_s, double wall_s);

/// One aligned line of the human table: "  label ........ value".
void print_row(const std::string& label, const std::string& value);

/// A latency line: count, p50, p90, p99, max in ms.
void print_latency(const std::string& label, const latency_summary& s);

/// printf into a std::string.
std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

/// Frames by kind as JSON (only kinds seen).
ojson frames_json(const fleet& f);

} // namespace parley::bench
