#include "tests/support/actor_fixture.hpp"

#include <caf/atom.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>

#include "actors/connection.hpp"
#include "actors/node_actors.hpp"
#include "actors/register_types.hpp"
#include "protocol/clock.hpp"

namespace parley::test {

// -- recording_sink -------------------------------------------------------------------

void recording_sink::write_locked(const frame_ptr& frame) {
  REQUIRE(frame != nullptr);
  written_.push_back(json::parse(*frame));
}

void recording_sink::push_message(frame_ptr frame, channel_id, uint64_t) {
  push_control(std::move(frame));
}

void recording_sink::push_control(frame_ptr frame) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return;
  if (held_)
    held_frames_.push_back(std::move(frame));
  else
    write_locked(frame);
}

void recording_sink::hold() {
  std::lock_guard<std::mutex> guard{mtx_};
  held_ = true;
}

void recording_sink::release(std::vector<frame_ptr> first) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return;
  for (auto& f : first)
    write_locked(f);
  for (auto& f : held_frames_)
    write_locked(f);
  held_frames_.clear();
  held_ = false;
}

void recording_sink::close(uint16_t code, std::string reason) {
  std::lock_guard<std::mutex> guard{mtx_};
  closes_.push_back(recorded_close{code, std::move(reason)});
  if (closed_)
    return;
  // ws_session::start_close: what is queued (held included) is written, then the close.
  for (auto& f : held_frames_)
    write_locked(f);
  held_frames_.clear();
  held_ = false;
  closed_ = true;
}

std::vector<json> recording_sink::frames() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return written_;
}

std::vector<json> recording_sink::of_type(const std::string& type) const {
  return filter(frames(), type);
}

std::vector<json> recording_sink::take_new() {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<json> result(written_.begin() + static_cast<long>(taken_), written_.end());
  taken_ = written_.size();
  return result;
}

std::vector<recorded_close> recording_sink::closes() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return closes_;
}

bool recording_sink::holding() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return held_;
}

// -- queue_sink -----------------------------------------------------------------------

queue_sink::queue_sink(size_t max_droppable, size_t max_control_bytes)
  : queue_(outbound_queue::limits{max_droppable, max_control_bytes}) {
}

void queue_sink::push_message(frame_ptr frame, channel_id channel, uint64_t seq) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return;
  queue_.push_message(std::move(frame), channel, seq);
}

void queue_sink::push_control(frame_ptr frame) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (closed_)
    return;
  if (queue_.push_control(std::move(frame)) == outbound_queue::push_result::overflow) {
    // ws_session: the client stopped reading; what is queued never drains.
    closes_.push_back(recorded_close{1013, "client is not reading"});
    queue_.take_all();
    preface_.clear();
    closed_ = true;
  }
}

void queue_sink::hold() {
  std::lock_guard<std::mutex> guard{mtx_};
  held_ = true;
}

void queue_sink::release(std::vector<frame_ptr> first) {
  std::lock_guard<std::mutex> guard{mtx_};
  preface_ = std::move(first);
  held_ = false;
}

void queue_sink::close(uint16_t code, std::string reason) {
  std::lock_guard<std::mutex> guard{mtx_};
  closes_.push_back(recorded_close{code, std::move(reason)});
  held_ = false;
}

size_t queue_sink::drain() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (held_)
    return 0;
  size_t n = 0;
  for (auto& f : preface_) {
    write_locked(f);
    ++n;
  }
  preface_.clear();
  for (auto& f : queue_.take_all()) {
    write_locked(f);
    ++n;
  }
  return n;
}

uint64_t queue_sink::dropped() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return queue_.dropped();
}

size_t queue_sink::queued() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return queue_.size() + preface_.size();
}

// -- configuration and database ---------------------------------------------------------

node_limits test_limits() {
  node_limits limits;
  limits.recent_ring = 16;
  return limits;
}

actor_test_config::actor_test_config() {
  register_types(*this);
  set("scheduler.policy", caf::atom("testing"));
  set("logger.console-verbosity", caf::atom("quiet"));
  set("logger.file-verbosity", caf::atom("quiet"));
}

std::shared_ptr<storage::soci_store> test_db::store() {
  return std::shared_ptr<storage::soci_store>(open());
}

channel_id test_db::create_channel(workspace_id workspace, const std::string& name,
                                   const std::vector<user_id>& members) {
  auto s = store();
  auto ch = s->create_channel(workspace, name, members);
  REQUIRE(ch);
  return *ch;
}

void test_db::append(const std::vector<chat_message>& rows) {
  auto s = store();
  auto out = s->append(rows);
  REQUIRE(out);
  REQUIRE(out->size() == rows.size());
  for (auto& o : *out)
    REQUIRE(o.status == storage::append_status::stored);
}

std::vector<chat_message> test_db::messages(workspace_id workspace, channel_id channel) {
  auto s = store();
  std::vector<chat_message> all;
  uint64_t after = 0;
  for (;;) {
    auto page = s->read_after(workspace, channel, after, 1000);
    REQUIRE(page);
    if (page->empty())
      return all;
    after = page->back().seq;
    all.insert(all.end(), page->begin(), page->end());
  }
}

// -- actor_fixture --------------------------------------------------------------------

actor_fixture::actor_fixture(test_db& db, node_limits limits)
  : sys(cfg),
    sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
  // Shutdown never waits: the destructor terminates every actor it spawned explicitly.
  sys.await_actors_before_shutdown(false);
  // Keep simulated time away from the epoch (as CAF's own test fixture does).
  sched.clock().current_time += std::chrono::hours(1);
  writer = db.store();
  reader = db.store();
  // A single node: placement has no peers, so this node owns every channel.
  node = spawn_node_actors(sys, node_env{"test", limits},
                           node_storage{writer, {{reader, reader}}, {}, {}, false},
                    [this](channel_id, const channel_actor& hdl, bool) {
                      channels_.push_back(hdl);
                    });
  run();
}

actor_fixture::~actor_fixture() {
  for (auto& c : connections_)
    caf::anon_send_exit(c, caf::exit_reason::user_shutdown);
  for (auto& ch : channels_)
    caf::anon_send_exit(ch, caf::exit_reason::user_shutdown);
  stop_node_actors(node);
  sched.run();
  connections_.clear();
  channels_.clear();
}

size_t actor_fixture::run() {
  return sched.run();
}

void actor_fixture::advance(caf::timespan d) {
  sched.advance_time(d);
  run();
}

client actor_fixture::connect(principal who, std::shared_ptr<recording_sink> sink,
                              std::optional<int64_t> token_exp_s) {
  if (!sink)
    sink = std::make_shared<recording_sink>();
  client c;
  c.who = who;
  c.conn_id = next_conn_++;
  c.sink = sink;
  auto exp_s = token_exp_s ? *token_exp_s : now_us() / 1'000'000 + 3600;
  c.conn = sys.spawn(connection, node.for_connections, c.conn_id, who, exp_s, sink_ptr{sink});
  connections_.push_back(c.conn);
  run();
  return c;
}

void actor_fixture::inject(const client& c, const std::string& text) {
  caf::anon_send(c.conn, frame_atom::value, text);
}

void actor_fixture::hello(const client& c, const std::map<channel_id, uint64_t>& last_seq_map) {
  json map = json::object();
  for (auto& [ch, seq] : last_seq_map)
    map[ch.str()] = seq;
  inject(c, json{{"type", "hello"}, {"last_seq_map", map}});
  run();
}

client actor_fixture::join(principal who, std::shared_ptr<recording_sink> sink) {
  auto c = connect(who, std::move(sink));
  hello(c);
  return c;
}

void actor_fixture::socket_closed(const client& c) {
  caf::anon_send(c.conn, closed_atom::value);
  run();
}

// -- frames ---------------------------------------------------------------------------

json send_frame(channel_id ch, const std::string& text, const std::string& client_msg_id) {
  return json{{"type", "message.send"},
              {"channel_id", ch.str()},
              {"text", text},
              {"client_msg_id", client_msg_id}};
}

json backfill_frame(channel_id ch, uint64_t after_seq, uint32_t limit) {
  return json{
    {"type", "backfill"}, {"channel_id", ch.str()}, {"after_seq", after_seq}, {"limit", limit}};
}

json ping_frame(int64_t ts) {
  return json{{"type", "ping"}, {"ts", ts}};
}

json presence_set_frame(const std::string& status) {
  return json{{"type", "presence.set"}, {"status", status}};
}

std::vector<json> filter(const std::vector<json>& frames, const std::string& type) {
  std::vector<json> result;
  for (auto& f : frames)
    if (f.value("type", "") == type)
      result.push_back(f);
  return result;
}

std::vector<uint64_t> seqs_of(const std::vector<json>& frames) {
  std::vector<uint64_t> result;
  for (auto& f : frames)
    result.push_back(f.at("channel_seq").get<uint64_t>());
  return result;
}

std::vector<uint64_t> iota_seqs(uint64_t first, uint64_t last) {
  std::vector<uint64_t> result;
  for (auto s = first; s <= last; ++s)
    result.push_back(s);
  return result;
}

} // namespace parley::test
