#pragma once

#include "caf/atom.hpp"

namespace jobwire {

// Atoms have at most 10 characters (CAF 0.17).

/// Publish one job event.
using publish_atom = caf::atom_constant<caf::atom("publish")>;
/// A client command, from a session to its connection actor and on to a job.
using command_atom = caf::atom_constant<caf::atom("command")>;
/// A serialised frame for a connection.
using frame_atom = caf::atom_constant<caf::atom("frame")>;
/// Status of a job.
using status_atom = caf::atom_constant<caf::atom("status")>;
/// Cancel a job.
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
/// The open connections that follow a job.
using conns_atom = caf::atom_constant<caf::atom("conns")>;
/// A session has closed.
using closed_atom = caf::atom_constant<caf::atom("closed")>;
/// A job actor holds nothing worth keeping in memory.
using idle_atom = caf::atom_constant<caf::atom("idle")>;
/// Leave memory now if idle, however recently active (too many jobs live).
using shed_atom = caf::atom_constant<caf::atom("shed")>;

/// Store a batch of one job's events (registry).
using store_atom = caf::atom_constant<caf::atom("store")>;
/// Write a connection record (registry).
using conn_put_atom = caf::atom_constant<caf::atom("connput")>;
/// An open connection's progress, stored within a while (registry).
using conn_progress_atom = caf::atom_constant<caf::atom("connprog")>;
/// A connection opened, nothing to store yet (registry).
using conn_open_atom = caf::atom_constant<caf::atom("connopen")>;
/// Take over an earlier connection's record (registry).
using resume_atom = caf::atom_constant<caf::atom("resume")>;
/// Write the progress records gathered (registry timer).
using progress_atom = caf::atom_constant<caf::atom("progress")>;
/// Commit what has gathered (registry, to itself: group commit).
using flush_atom = caf::atom_constant<caf::atom("flush")>;
/// Remove expired records (registry timer).
using sweep_atom = caf::atom_constant<caf::atom("sweep")>;
/// A timer of an actor's own.
using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// Attach a worker to a job (ingest, job).
using attach_atom = caf::atom_constant<caf::atom("attach")>;
/// Detach a worker from a job (ingest, job).
using detach_atom = caf::atom_constant<caf::atom("detach")>;

/// Timer: the grace period for a job that lost its last worker.
using grace_atom = caf::atom_constant<caf::atom("grace")>;
/// From the directory: a running job's time to be looked at again has
/// passed (is it abandoned, its worker lost?).
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;

/// A frame that could not be sent now, for the delivery actor.
using park_atom = caf::atom_constant<caf::atom("park")>;
/// Timer: retry the parked frames of one connection.
using retry_atom = caf::atom_constant<caf::atom("retry")>;
/// From the delivery actor: what it has written for a connection.
using sent_atom = caf::atom_constant<caf::atom("sent")>;
/// For the registry: what a taken-over connection's peer acknowledged.
using acked_atom = caf::atom_constant<caf::atom("acked")>;
using replay_atom = caf::atom_constant<caf::atom("replay")>;

} // namespace jobwire
