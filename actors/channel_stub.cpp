#include "actors/channel_stub.hpp"

#include <caf/skip.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/messages.hpp"

namespace parley {

caf::behavior channel_stub(caf::stateful_actor<channel_stub_state>* self, node_ptr node,
                           channel_id id, caf::actor owner_node) {
  auto leave = [=] {
    node->channels.forget(id, caf::actor_cast<caf::actor>(self));
    self->quit(make_error(error_code::unavailable));
  };
  if (!owner_node) {
    leave();
    return {};
  }
  // Until the owner answers, requests wait in the mailbox (skipped, kept in order).
  self->set_default_handler(caf::skip);
  self->request(owner_node, node->limits.request_timeout, lookup_atom::value, id)
    .then(
      [=](caf::actor& channel) {
        self->state.target = channel;
        self->monitor(channel);
        self->set_down_handler([=](caf::down_msg&) { leave(); });
        self->set_default_handler(
          [=](caf::scheduled_actor*, caf::message_view& x) -> caf::result<caf::message> {
            auto rp = self->make_response_promise();
            rp.delegate(self->state.target, x.move_content_to_message());
            return caf::delegated<caf::message>{};
          });
        self->become([](idle_atom) {});
      },
      [=](caf::error&) { leave(); });
  return {
    [](idle_atom) {
      // Waiting for the owner.
    },
  };
}

} // namespace parley
