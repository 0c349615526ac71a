#pragma once

#include <caf/atom.hpp>

namespace parley {

// All atoms, grouped by the actor they talk to. At most 10 characters (CAF 0.17).

// channel
using send_atom = caf::atom_constant<caf::atom("send")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using backfill_atom = caf::atom_constant<caf::atom("backfill")>;
using who_atom = caf::atom_constant<caf::atom("who")>;
using add_atom = caf::atom_constant<caf::atom("add")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using durable_atom = caf::atom_constant<caf::atom("durable")>;   // INTERNAL
using looked_atom = caf::atom_constant<caf::atom("looked")>;     // INTERNAL
using idle_atom = caf::atom_constant<caf::atom("idle")>;         // INTERNAL
using cursor_atom = caf::atom_constant<caf::atom("cursor")>;     // INTERNAL
using catchup_atom = caf::atom_constant<caf::atom("catchup")>;   // INTERNAL

// sequencer
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;       // INTERNAL

// storage reader
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using channels_atom = caf::atom_constant<caf::atom("channels")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using dm_atom = caf::atom_constant<caf::atom("dm")>;
using list_channels_atom = caf::atom_constant<caf::atom("chan_list")>;

// gateway
using register_atom = caf::atom_constant<caf::atom("register")>;
using unregister_atom = caf::atom_constant<caf::atom("unregister")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using joined_atom = caf::atom_constant<caf::atom("joined")>;
using left_atom = caf::atom_constant<caf::atom("left")>;

// presence
using connect_atom = caf::atom_constant<caf::atom("connect")>;
using disconn_atom = caf::atom_constant<caf::atom("disconn")>;
using status_atom = caf::atom_constant<caf::atom("status")>;

// presence (cluster changes)
using rehome_atom = caf::atom_constant<caf::atom("rehome")>;

// cluster
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;         // INTERNAL

// connection
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using activity_atom = caf::atom_constant<caf::atom("activity")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using hello_tmo_atom = caf::atom_constant<caf::atom("hello_tmo")>; // INTERNAL
using idle_tmo_atom = caf::atom_constant<caf::atom("idle_tmo")>;   // INTERNAL
using expiry_atom = caf::atom_constant<caf::atom("expiry")>;       // INTERNAL

} // namespace parley
