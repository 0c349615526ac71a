#include "actors/channel_stub.hpp"

#include <caf/exit_reason.hpp>
#include <caf/skip.hpp>

#include "actors/errors.hpp"

namespace parley {

namespace {

using stub_self = channel_actor::stateful_pointer<channel_stub_state>;

/// Forwards every message of the channel interface to the owner's channel actor; the owner
/// answers the original requester. The owner's own ticks are not forwarded.
channel_actor::behavior_type forwarding(stub_self self) {
  auto forward = [self](auto... xs) {
    auto probe = metrics_probe(self);
    return self->delegate(self->state.target, xs...);
  };
  return {
    [=](send_atom a, const send_request& r) -> caf::result<send_reply> { return forward(a, r); },
    [=](attach_atom a, const principal& who, const gateway_actor& gw, presence_status s,
        uint64_t stamp) -> caf::result<uint64_t> { return forward(a, who, gw, s, stamp); },
    [=](backfill_atom a, const principal& who, uint64_t after,
        uint32_t limit) -> caf::result<backfill_page> { return forward(a, who, after, limit); },
    [=](who_atom a, const principal& who) -> caf::result<std::vector<presence_entry>> {
      return forward(a, who);
    },
    [=](add_atom a, const std::vector<user_id>& users) -> caf::result<std::vector<user_id>> {
      return forward(a, users);
    },
    [=](remove_atom a, user_id user) -> caf::result<bool> { return forward(a, user); },
    [=](announce_atom a, const std::vector<user_id>& members) {
      auto probe = metrics_probe(self);
      self->send(self->state.target, a, members);
    },
    [=](idle_atom) {},
    [=](cursor_atom) {},
    [=](catchup_atom) {},
    [=](coalesce_atom) {},
    [=](deadline_atom) {},
  };
}

} // namespace

channel_actor::behavior_type channel_stub(stub_self self, channel_deps_ptr deps, channel_id id,
                                          cluster_actor owner_node) {
  auto& env = deps->env;
  self->state.slot = actor_slot(env.metrics, actor_kind::channel_stub, self->id(), id.str());
  // `failed`: no owner, no answer, or the owner's channel died (not a normal passivation).
  auto leave = [=](bool failed) {
    if (failed)
      deps->env.metrics->internode_failures->Increment();
    if (auto directory = deps->directory.lock())
      directory->forget(id, caf::actor_cast<channel_actor>(self));
    self->quit(make_error(error_code::unavailable));
  };
  // Until the owner answers, requests wait in the mailbox (skipped, kept in order).
  self->set_default_handler(caf::skip);
  if (!owner_node) {
    leave(true);
  } else {
    self->request(owner_node, env.limits.request_timeout, locate_atom::value, id)
      .then(
        [=](const channel_actor& channel) {
          self->state.target = channel;
          self->monitor(channel);
          self->set_down_handler(
            [=](caf::down_msg& dm) { leave(dm.reason != caf::exit_reason::normal); });
          self->set_default_handler(caf::print_and_drop);
          self->become(forwarding(self));
        },
        [=](caf::error&) { leave(true); });
  }
  return {channel_actor::behavior_type::unsafe_init{}, caf::behavior{[](idle_atom) {}}};
}

} // namespace parley
