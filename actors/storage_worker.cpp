#include "actors/storage_worker.hpp"


namespace parley {

storage_actor::behavior_type
storage_worker(storage_actor::stateful_pointer<storage_worker_state> self,
               std::shared_ptr<storage::message_log> log,
               std::shared_ptr<storage::membership_store> members, size_t recent_ring) {
  self->state.log = std::move(log);
  self->state.members = std::move(members);
  self->state.recent_ring = recent_ring;
  return {
    [=](dedup_atom, workspace_id ws, user_id user,
        const std::string& cmid) -> caf::result<std::vector<chat_message>> {
      auto probe = metrics_probe(self);
      auto found = self->state.log->find_sent(ws, user, cmid);
      if (!found)
        return found.error();
      std::vector<chat_message> result;
      if (*found)
        result.push_back(std::move(**found));
      return result;
    },
    [=](read_atom, workspace_id ws, channel_id ch, uint64_t after,
        uint32_t limit) -> caf::result<std::vector<chat_message>> {
      auto probe = metrics_probe(self);
      return self->state.log->read_after(ws, ch, after, limit);
    },
    [=](load_atom, channel_id ch) -> caf::result<channel_snapshot> {
      auto probe = metrics_probe(self);
      auto& st = self->state;
      channel_snapshot snap;
      auto info = st.members->find_channel(ch);
      if (!info)
        return info.error();
      if (!*info)
        return snap;
      snap.found = true;
      snap.workspace = (*info)->workspace;
      auto mem = st.members->members(snap.workspace, ch);
      if (!mem)
        return mem.error();
      snap.members = std::move(*mem);
      auto latest = st.log->latest_seq(snap.workspace, ch);
      if (!latest)
        return latest.error();
      snap.latest_seq = *latest;
      auto from = snap.latest_seq > st.recent_ring ? snap.latest_seq - st.recent_ring : 0;
      auto recent = st.log->read_after(snap.workspace, ch, from,
                                      static_cast<uint32_t>(st.recent_ring));
      if (!recent)
        return recent.error();
      snap.recent = std::move(*recent);
      return snap;
    },
    [=](channels_atom, workspace_id ws, user_id user) -> caf::result<std::vector<channel_id>> {
      auto probe = metrics_probe(self);
      return self->state.members->channels_of(ws, user);
    },
    [=](list_channels_atom, workspace_id ws,
        user_id user) -> caf::result<std::vector<storage::channel_summary>> {
      auto probe = metrics_probe(self);
      return self->state.members->list_channels(ws, user);
    },
    [=](create_atom, workspace_id ws, const std::string& name,
        const std::vector<user_id>& users) -> caf::result<channel_id> {
      auto probe = metrics_probe(self);
      return self->state.members->create_channel(ws, name, users);
    },
    [=](dm_atom, workspace_id ws, user_id a, user_id b) -> caf::result<channel_id, bool> {
      auto probe = metrics_probe(self);
      bool created = false;
      auto ch = self->state.members->open_dm(ws, a, b, created);
      if (!ch)
        return ch.error();
      return {*ch, created};
    },
    [=](add_members_atom, workspace_id ws, channel_id ch,
        const std::vector<user_id>& users) -> caf::result<std::vector<user_id>> {
      auto probe = metrics_probe(self);
      std::vector<user_id> added;
      for (auto u : users) {
        auto ok = self->state.members->add_member(ws, ch, u);
        if (!ok)
          return ok.error();
        if (*ok)
          added.push_back(u);
      }
      return added;
    },
    [=](rm_member_atom, workspace_id ws, channel_id ch, user_id user) -> caf::result<bool> {
      auto probe = metrics_probe(self);
      return self->state.members->remove_member(ws, ch, user);
    },
  };
}

} // namespace parley
