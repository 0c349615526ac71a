#pragma once

#include <caf/atom.hpp>

namespace parley {

// All atoms, grouped by the actor they talk to; each text has exactly one meaning. At most
// 10 characters (CAF 0.17). Self-sent ticks are marked INTERNAL.

// channel (and channel stub)
using send_atom = caf::atom_constant<caf::atom("send")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using backfill_atom = caf::atom_constant<caf::atom("backfill")>;
using who_atom = caf::atom_constant<caf::atom("who")>;
using add_atom = caf::atom_constant<caf::atom("add")>;           // admin: add members
using remove_atom = caf::atom_constant<caf::atom("remove")>;     // admin: remove a member
using announce_atom = caf::atom_constant<caf::atom("announce")>; // a new channel's members
using idle_atom = caf::atom_constant<caf::atom("idle")>;         // INTERNAL
using cursor_atom = caf::atom_constant<caf::atom("cursor")>;     // INTERNAL
using catchup_atom = caf::atom_constant<caf::atom("catchup")>;   // INTERNAL
using coalesce_atom = caf::atom_constant<caf::atom("coalesce")>; // INTERNAL
using deadline_atom = caf::atom_constant<caf::atom("deadline")>; // INTERNAL

// group commit
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;       // INTERNAL (outbox too)

// storage worker
using dedup_atom = caf::atom_constant<caf::atom("dedup")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using channels_atom = caf::atom_constant<caf::atom("channels")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using dm_atom = caf::atom_constant<caf::atom("dm")>;
using add_members_atom = caf::atom_constant<caf::atom("addmembers")>;
using rm_member_atom = caf::atom_constant<caf::atom("rmmember")>;
using list_channels_atom = caf::atom_constant<caf::atom("chan_list")>;

// gateway (joined/left also tell presence which channels a user gained or lost)
using register_atom = caf::atom_constant<caf::atom("register")>;
using unregister_atom = caf::atom_constant<caf::atom("unregister")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using joined_atom = caf::atom_constant<caf::atom("joined")>;
using left_atom = caf::atom_constant<caf::atom("left")>;
using rehome_atom = caf::atom_constant<caf::atom("rehome")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;       // presence.subscribe
using unwatch_atom = caf::atom_constant<caf::atom("unwatch")>;   // presence.unsubscribe
using watched_atom = caf::atom_constant<caf::atom("watched")>;   // a watched user's transition

// peer outbox
using probe_atom = caf::atom_constant<caf::atom("probe")>; // INTERNAL

// presence
using wire_atom = caf::atom_constant<caf::atom("wire")>;         // spawn-time wiring
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using disconn_atom = caf::atom_constant<caf::atom("disconn")>;
using status_atom = caf::atom_constant<caf::atom("status")>;     // presence.set
using away_atom = caf::atom_constant<caf::atom("away")>; // a user's stamped away flag (gateway too)
// presence as a user's home (through the home node's gateway when remote)
using report_atom = caf::atom_constant<caf::atom("report")>;       // one node's word on a user
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>; // a gateway watches users
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;         // ... no longer

// cluster
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using locate_atom = caf::atom_constant<caf::atom("locate")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;       // INTERNAL

// connection
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using activity_atom = caf::atom_constant<caf::atom("activity")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using hello_tmo_atom = caf::atom_constant<caf::atom("hello_tmo")>; // INTERNAL
using idle_tmo_atom = caf::atom_constant<caf::atom("idle_tmo")>;   // INTERNAL
using expiry_atom = caf::atom_constant<caf::atom("expiry")>;       // INTERNAL

} // namespace parley
