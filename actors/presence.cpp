#include "actors/presence.hpp"

#include <algorithm>
#include <memory>

#include <caf/event_based_actor.hpp>

#include "actors/atoms.hpp"
#include "actors/errors.hpp"
#include "actors/gateway.hpp"

namespace parley {

namespace {

using presence_actor = caf::stateful_actor<presence_state>*;

presence_status status_of(const presence_state::user_entry& e) {
  if (e.connections.empty())
    return presence_status::offline;
  return e.away ? presence_status::away : presence_status::online;
}

/// Tells one channel the user's status on this node; the reply is not needed.
void tell(presence_actor self, channel_id ch, const principal& who, presence_status s) {
  auto& node = self->state.node;
  self->request(node->channels.get(ch), node->limits.request_timeout, attach_atom::value, who,
                node->gateway, s)
    .then([](uint64_t) {}, [](caf::error&) {});
}

void tell_all(presence_actor self, const presence_state::user_entry& e) {
  ++self->state.transitions;
  for (auto ch : e.channels)
    tell(self, ch, e.who, status_of(e));
}

} // namespace

caf::behavior presence(caf::stateful_actor<presence_state>* self, node_ptr node) {
  self->state.node = std::move(node);
  return {
    [=](connect_atom, const principal& who, uint64_t conn,
        const std::vector<channel_id>& channels) -> caf::result<std::vector<channel_position>> {
      auto& st = self->state;
      auto& e = st.users[user_key(who)];
      e.who = who;
      bool was_offline = e.connections.empty();
      e.connections.insert(conn);
      for (auto ch : channels)
        if (std::find(e.channels.begin(), e.channels.end(), ch) == e.channels.end())
          e.channels.push_back(ch);
      if (was_offline)
        ++st.transitions;
      if (channels.empty())
        return std::vector<channel_position>{};
      // Attach to every channel (idempotent for a user already online here) and collect the
      // latest seqs for hello_ack; a channel that refuses is left out.
      struct fan_in {
        std::vector<channel_position> positions;
        size_t outstanding;
        caf::response_promise rp;
      };
      auto acc = std::make_shared<fan_in>();
      acc->outstanding = channels.size();
      acc->rp = self->make_response_promise();
      auto status = status_of(e);
      for (auto ch : channels) {
        auto done = [acc] {
          if (--acc->outstanding == 0) {
            std::sort(acc->positions.begin(), acc->positions.end(),
                      [](auto& a, auto& b) { return a.channel < b.channel; });
            acc->rp.deliver(acc->positions);
          }
        };
        self->request(st.node->channels.get(ch), st.node->limits.request_timeout,
                      attach_atom::value, who, st.node->gateway, status)
          .then(
            [=](uint64_t latest) {
              acc->positions.push_back(channel_position{ch, latest});
              done();
            },
            [=](caf::error&) { done(); });
      }
      return acc->rp;
    },
    [=](disconn_atom, const principal& who, uint64_t conn) {
      auto& st = self->state;
      auto i = st.users.find(user_key(who));
      if (i == st.users.end())
        return;
      i->second.connections.erase(conn);
      if (i->second.connections.empty()) {
        tell_all(self, i->second);
        st.users.erase(i);
      }
    },
    [=](status_atom, const principal& who, presence_status s) {
      auto& st = self->state;
      auto i = st.users.find(user_key(who));
      if (i == st.users.end())
        return;
      bool away = s == presence_status::away;
      if (i->second.away == away)
        return;
      i->second.away = away;
      tell_all(self, i->second);
    },
    [=](joined_atom, const principal& who, channel_id ch) {
      auto& st = self->state;
      auto i = st.users.find(user_key(who));
      if (i == st.users.end())
        return;
      auto& chs = i->second.channels;
      if (std::find(chs.begin(), chs.end(), ch) == chs.end())
        chs.push_back(ch);
      tell(self, ch, who, status_of(i->second));
    },
    [=](rehome_atom) {
      // Cluster membership changed: channels may have new owners that do not know who is
      // online here yet. Attaching is idempotent for owners that already know.
      for (auto& [key, e] : self->state.users)
        for (auto ch : e.channels)
          tell(self, ch, e.who, status_of(e));
    },
    [=](rehome_atom, channel_id ch) {
      for (auto& [key, e] : self->state.users)
        if (std::find(e.channels.begin(), e.channels.end(), ch) != e.channels.end())
          tell(self, ch, e.who, status_of(e));
    },
    [=](left_atom, const principal& who, channel_id ch) {
      auto& st = self->state;
      auto i = st.users.find(user_key(who));
      if (i == st.users.end())
        return;
      auto& chs = i->second.channels;
      chs.erase(std::remove(chs.begin(), chs.end(), ch), chs.end());
    },
  };
}

} // namespace parley
