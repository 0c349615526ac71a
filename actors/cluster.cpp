#include "actors/cluster.hpp"

#include <set>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/node_id.hpp>

#include "actors/errors.hpp"
#include "actors/log.hpp"

namespace parley {

namespace {

using cluster_self = cluster_actor::stateful_pointer<cluster_state>;

constexpr auto max_backoff = std::chrono::seconds(5);
constexpr auto connect_timeout = std::chrono::seconds(3);

void membership_changed(cluster_self self, bool peer_added) {
  auto& st = self->state;
  ++st.changes;
  st.deps.channels->reassign(peer_added);
  self->send(st.deps.presence, rehome_atom::value);
  std::string live;
  for (auto& n : st.deps.nodes->live())
    live += (live.empty() ? "" : ",") + n;
  log(log_level::info, "cluster live nodes: " + live, {{"actor", "cluster"}});
}

void connect(cluster_self self, size_t i);

void retry_later(cluster_self self, size_t i) {
  auto& l = self->state.links[i];
  l.connecting = false;
  self->delayed_send(self, l.backoff, retry_atom::value, i);
  l.backoff = std::min<caf::timespan>(l.backoff * 2, max_backoff);
}

/// Marks link i up with the peer's cluster actor, gateway and presence.
void link_up(cluster_self self, size_t i, const cluster_actor& remote,
             const gateway_actor& gateway, const presence_actor& presence) {
  auto& l = self->state.links[i];
  l.connecting = false;
  l.remote = remote;
  l.up = true;
  l.backoff = std::chrono::milliseconds(250);
  self->monitor(remote);
  self->state.deps.nodes->set_peer(placement::peer{l.member.name, remote, gateway, presence});
  membership_changed(self, true);
}

/// Over TLS only one side of each pair dials (the smaller name): CAF 0.17's openssl module
/// drops the BASP link when the two nodes also open a second connection to each other, so the
/// other side waits for the dialler's hello and adopts that link.
bool dials(cluster_self self, size_t i) {
  return !self->system().has_openssl_manager()
         || self->state.deps.nodes->self() < self->state.links[i].member.name;
}

void greet(cluster_self self, size_t i, cluster_actor remote) {
  auto& st = self->state;
  self->request(remote, connect_timeout, hello_atom::value, st.deps.nodes->self(),
                st.deps.gateway, st.deps.presence)
    .then(
      [=](const std::string& name, const gateway_actor& gateway,
          const presence_actor& presence) {
        auto& l = self->state.links[i];
        l.connecting = false;
        if (name != l.member.name) {
          log(log_level::warning,
              l.member.host + ":" + std::to_string(l.member.basp_port) + " is node " + name
                + ", expected " + l.member.name,
              {{"actor", "cluster"}});
          retry_later(self, i);
          return;
        }
        link_up(self, i, remote, gateway, presence);
      },
      [=](caf::error&) { retry_later(self, i); });
}

void connect(cluster_self self, size_t i) {
  auto& l = self->state.links[i];
  if (l.up || l.connecting || !dials(self, i))
    return;
  l.connecting = true;
  // With cluster TLS configured the openssl module's middleman actor connects over TLS.
  auto& sys = self->system();
  auto mm = sys.has_openssl_manager() ? sys.openssl_manager().actor_handle()
                                      : sys.middleman().actor_handle();
  self->request(mm, connect_timeout, caf::connect_atom::value, l.member.host,
                l.member.basp_port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr, const std::set<std::string>&) {
        auto remote = caf::actor_cast<cluster_actor>(ptr);
        if (!remote) {
          retry_later(self, i);
          return;
        }
        greet(self, i, remote);
      },
      [=](caf::error&) { retry_later(self, i); });
}

} // namespace

cluster_actor::behavior_type cluster(cluster_self self, cluster_deps deps,
                                     std::vector<cluster_member> peers) {
  auto& st = self->state;
  st.deps = std::move(deps);
  for (auto& p : peers)
    st.links.push_back(cluster_state::link{p, {}, false, false});
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (size_t i = 0; i < st.links.size(); ++i) {
      auto& l = st.links[i];
      if (l.up && l.remote.address() == dm.source) {
        log(log_level::warning, "node " + l.member.name + " is down", {{"actor", "cluster"}});
        l.up = false;
        l.remote = nullptr;
        st.deps.nodes->remove_peer(l.member.name);
        membership_changed(self, false);
        retry_later(self, i);
      }
    }
  });
  for (size_t i = 0; i < st.links.size(); ++i)
    connect(self, i);
  return {
    [=](hello_atom, const std::string& name, const gateway_actor& gateway,
        const presence_actor& presence)
      -> caf::result<std::string, gateway_actor, presence_actor> {
      auto peer_cluster = caf::actor_cast<cluster_actor>(self->current_sender());
      // A peer (re)started: connect back now instead of waiting for the backoff. A side that
      // does not dial adopts the dialler's link instead; a new cluster actor means the peer
      // restarted before its old link was seen down.
      auto& st = self->state;
      for (size_t i = 0; i < st.links.size(); ++i) {
        auto& l = st.links[i];
        if (l.member.name != name)
          continue;
        if (!dials(self, i)) {
          if (peer_cluster && (!l.up || l.remote != peer_cluster))
            link_up(self, i, peer_cluster, gateway, presence);
        } else if (!l.up) {
          l.backoff = std::chrono::milliseconds(250);
          connect(self, i);
        }
      }
      return {st.deps.nodes->self(), st.deps.gateway, st.deps.presence};
    },
    [=](locate_atom, channel_id ch) -> caf::result<channel_actor> {
      auto& st = self->state;
      if (st.deps.nodes->owner(ch) != st.deps.nodes->self())
        return make_error(error_code::unavailable); // views differ for a moment
      return st.deps.channels->get(ch);
    },
    [=](retry_atom, uint64_t i) {
      if (i < self->state.links.size())
        connect(self, i);
    },
  };
}

} // namespace parley
