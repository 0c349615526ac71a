#include "actors/sequencer.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/messages.hpp"

namespace parley {

namespace {

void flush(caf::stateful_actor<sequencer_state>* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.batch.empty())
    return;
  auto started = steady_ns();
  auto outcomes = st.log->append(st.batch);
  ++st.batches;
  if (auto* m = st.slot.metrics()) {
    m->sequencer_commit.observe((steady_ns() - started) / 1e9);
    m->sequencer_batch.observe(static_cast<double>(st.batch.size()));
  }
  for (size_t i = 0; i < st.waiting.size(); ++i) {
    if (outcomes)
      st.waiting[i].deliver((*outcomes)[i]);
    else
      st.waiting[i].deliver(outcomes.error());
  }
  st.batch.clear();
  st.waiting.clear();
}

} // namespace

caf::behavior sequencer(caf::stateful_actor<sequencer_state>* self,
                        std::shared_ptr<storage::message_log> log, size_t max_batch) {
  self->state.log = std::move(log);
  self->state.max_batch = max_batch;
  return {
    [=](append_atom, const chat_message& msg) -> caf::result<storage::append_outcome> {
      auto probe = metrics_probe(self, actor_kind::sequencer);
      auto& st = self->state;
      st.batch.push_back(msg);
      st.waiting.push_back(self->make_response_promise());
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
      auto probe = metrics_probe(self, actor_kind::sequencer);
      flush(self);
    },
  };
}

} // namespace parley
