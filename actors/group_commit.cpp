#include "actors/group_commit.hpp"

#include <algorithm>
#include <utility>
#include <vector>


namespace parley {

namespace {

using group_commit_self = group_commit_actor::stateful_pointer<group_commit_state>;

/// Commits `rows` (indexes into the buffered batch, all of one commit group) in one
/// transaction and answers each of their appends.
void commit(group_commit_self self, const std::vector<size_t>& rows) {
  auto& st = self->state;
  std::vector<chat_message> part;
  const std::vector<chat_message>* batch = &st.batch;
  if (rows.size() != st.batch.size()) {
    part.reserve(rows.size());
    for (auto i : rows)
      part.push_back(st.batch[i]);
    batch = &part;
  }
  auto started = steady_ns();
  auto outcomes = st.log->append(*batch);
  ++st.batches;
  if (auto* m = st.slot.metrics()) {
    m->commit_seconds.observe((steady_ns() - started) / 1e9);
    m->commit_batch.observe(static_cast<double>(batch->size()));
  }
  for (size_t k = 0; k < rows.size(); ++k) {
    if (outcomes)
      st.waiting[rows[k]].deliver((*outcomes)[k]);
    else
      st.waiting[rows[k]].deliver(outcomes.error());
  }
}

void flush(group_commit_self self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.batch.empty())
    return;
  // One transaction per storage shard (commit group), in turn: an append is answered once its
  // own shard committed, so a failing shard never fails another shard's rows. A channel's
  // rows share one group, so its appends are still answered in seq order.
  std::vector<std::pair<size_t, std::vector<size_t>>> groups;
  for (size_t i = 0; i < st.batch.size(); ++i) {
    auto g = st.log->commit_group(st.batch[i]);
    auto it = std::find_if(groups.begin(), groups.end(),
                           [g](const auto& entry) { return entry.first == g; });
    if (it == groups.end())
      groups.emplace_back(g, std::vector<size_t>{i});
    else
      it->second.push_back(i);
  }
  for (auto& entry : groups)
    commit(self, entry.second);
  st.batch.clear();
  st.waiting.clear();
}

} // namespace

group_commit_actor::behavior_type group_commit(group_commit_self self,
                                               std::shared_ptr<storage::message_log> log,
                                               size_t max_batch) {
  self->state.log = std::move(log);
  self->state.max_batch = max_batch;
  return {
    [=](append_atom, const chat_message& msg) -> caf::result<storage::append_outcome> {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      st.batch.push_back(msg);
      st.waiting.push_back(self->make_response_promise<storage::append_outcome>());
      auto rp = st.waiting.back();
      if (st.batch.size() >= st.max_batch) {
        flush(self);
      } else if (!st.flush_scheduled) {
        // The flush goes behind every append already in the mailbox: they share one commit.
        st.flush_scheduled = true;
        self->send(self, flush_atom::value);
      }
      return rp;
    },
    [=](flush_atom) {
      auto probe = metrics_probe(self);
      flush(self);
    },
  };
}

} // namespace parley
