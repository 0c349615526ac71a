#include "actors/channel_stub.hpp"

#include <caf/exit_reason.hpp>
#include <caf/skip.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"

namespace parley {

caf::behavior channel_stub(caf::stateful_actor<channel_stub_state>* self, node_ptr node,
                           channel_id id, caf::actor owner_node) {
  self->state.slot = actor_slot(node->metrics, actor_kind::channel_stub, self->id(), id.str());
  // `failed`: no owner, no answer, or the owner's channel died (not a normal passivation).
  auto leave = [=](bool failed) {
    if (failed)
      node->metrics->internode_failures->Increment();
    node->channels.forget(id, caf::actor_cast<caf::actor>(self));
    self->quit(make_error(error_code::unavailable));
  };
  if (!owner_node) {
    leave(true);
    return {};
  }
  // Until the owner answers, requests wait in the mailbox (skipped, kept in order).
  self->set_default_handler(caf::skip);
  self->request(owner_node, node->limits.request_timeout, lookup_atom::value, id)
    .then(
      [=](caf::actor& channel) {
        self->state.target = channel;
        self->monitor(channel);
        self->set_down_handler([=](caf::down_msg& dm) { leave(dm.reason != caf::exit_reason::normal); });
        self->set_default_handler(
          [=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
            auto probe = metrics_probe(self, actor_kind::channel_stub);
            auto rp = self->make_response_promise();
            rp.delegate(self->state.target, x.move_content_to_message());
            return caf::delegated<caf::message>{};
          });
        self->become([=](idle_atom) { auto probe = metrics_probe(self, actor_kind::channel_stub); });
      },
      [=](caf::error&) { leave(true); });
  return {
    [=](idle_atom) {
      auto probe = metrics_probe(self, actor_kind::channel_stub);
      // Waiting for the owner.
    },
  };
}

} // namespace parley
