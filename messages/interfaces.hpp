#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "messages/atoms.hpp"
#include "messages/client_command.hpp"
#include "messages/frame.hpp"
#include "messages/ingest.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"
#include "messages/records.hpp"
#include "messages/stored_event.hpp"

namespace jobwire {

/// One WebSocket session's actor. Only frames leave it, towards its session.
///
/// ~~~
/// // A command the session parsed (or failed to parse) from a text frame.
/// (command_atom, client_command cmd) -> void
///
/// // A frame to send to the client, in the order received.
/// (frame_atom, frame_ptr frame) -> void
///
/// // Several frames of one job, in seq order, as if sent one by one.
/// (frame_atom, frame_batch frames) -> void
///
/// // The session has gone, having written up to `written` of each job;
/// // the actor records that and quits.
/// (closed_atom, std::vector<followed_job> written) -> void
///
/// // Timer: writes what changed in the connection's record, and closes
/// // with 1008 once the upgrade's token has expired.
/// (tick_atom) -> void
///
/// // From the delivery actor: the highest number of a parked frame it has
/// // passed to the session (all of them once it equals the count the
/// // connection handed over).
/// (sent_atom, uint64_t passed) -> void
///
/// // From the registry: another connection has resumed this one. It
/// // closes and leaves its record alone (it belongs to the other now),
/// // after its session has told the registry what the peer acknowledged
/// // (acked_atom).
/// (resume_atom) -> void
///
/// // From a job actor (the sender) replaying stored events in steps: it
/// // has more of `job_id`. The connection asks for the next step
/// // (replay_atom, connection_actor) once its queue has room. With an
/// // empty `job_id`, its own timer: look again whether the queue has room
/// // for the replays waiting.
/// (replay_atom, std::string job_id) -> void
/// ~~~
using connection_actor = caf::typed_actor<
  caf::reacts_to<command_atom, client_command>,
  caf::reacts_to<frame_atom, frame_ptr>,
  caf::reacts_to<frame_atom, frame_batch>,
  caf::reacts_to<closed_atom, std::vector<followed_job>>,
  caf::reacts_to<tick_atom>, caf::reacts_to<sent_atom, uint64_t>,
  caf::reacts_to<resume_atom>, caf::reacts_to<replay_atom, std::string>>;

/// What can be asked of one job, whether of its actor or of the directory
/// that routes to it.
///
/// ~~~
/// // Stores `ev` and sends it to every subscriber; replies once stored.
/// // Errors: job_finished (after a terminal event), storage_full,
/// // rate_limited (too many events waiting to be stored).
/// (publish_atom, job_event ev) -> uint64_t seq
///
/// // A subscribe, unsubscribe, request_status or cancel_job from `who`,
/// // whose connection id is `connection_id`. Replies and events go to
/// // `who` as frames, in order.
/// (command_atom, client_command cmd, connection_actor who,
///  std::string connection_id) -> void
///
/// // The snapshot. Errors: job_not_found before the first event.
/// (status_atom, std::string job_id) -> job_snapshot
///
/// // Cancels the job with `reason`: the attached workers are asked to
/// // stop, or with none the job is cancelled at once. Replies with the
/// // snapshot. Errors: job_not_found, job_finished.
/// (cancel_atom, std::string job_id, std::string reason) -> job_snapshot
///
/// // The connection ids that follow the job.
/// (conns_atom, std::string job_id) -> std::vector<std::string>
///
/// // Attaches a pipeline worker: it gets cancel requests; losing the last
/// // one fails a running job after the grace period.
/// (attach_atom, std::string job_id, worker_actor worker) -> job_snapshot
///
/// (detach_atom, std::string job_id, worker_actor worker) -> void
/// ~~~
using job_protocol = caf::typed_actor<
  caf::replies_to<publish_atom, job_event>::with<uint64_t>,
  caf::reacts_to<command_atom, client_command, connection_actor, std::string>,
  caf::replies_to<status_atom, std::string>::with<job_snapshot>,
  caf::replies_to<cancel_atom, std::string, std::string>::with<job_snapshot>,
  caf::replies_to<conns_atom, std::string>::with<std::vector<std::string>>,
  caf::replies_to<attach_atom, std::string, worker_actor>::with<job_snapshot>,
  caf::reacts_to<detach_atom, std::string, worker_actor>>;

/// One job: assigns seq, keeps the snapshot, stores events through the
/// registry and fans them out to its subscribers once stored.
///
/// ~~~
/// // job_protocol, and:
///
/// // From the directory, now and then: leave memory if idle long enough.
/// (tick_atom) -> void
///
/// // From the directory when it has `--max-live-jobs` in memory: leave
/// // memory if idle, however recently active.
/// (shed_atom) -> void
///
/// // Timer: the grace period after the last worker went, `generation`
/// // telling stale timers apart.
/// (grace_atom, uint64_t generation) -> void
///
/// // From the directory: the running job's stored time to be looked at
/// // again has passed. It fails with `abandoned` if it had no event for
/// // `--job-abandon` and no worker is attached; it waits `--worker-grace`
/// // for a worker if one was attached when the server stopped; otherwise
/// // it stores a new time.
/// (recheck_atom) -> void
///
/// // From a subscriber's connection whose replay was paused: the next
/// // step of stored events.
/// (replay_atom, connection_actor who) -> void
/// ~~~
using job_actor = job_protocol::extend<caf::reacts_to<tick_atom>,
                                       caf::reacts_to<shed_atom>,
                                       caf::reacts_to<grace_atom, uint64_t>,
                                       caf::reacts_to<recheck_atom>,
                                       caf::reacts_to<replay_atom,
                                                      connection_actor>>;

/// Knows every job actor in memory and routes each job's messages to it,
/// activating it on demand, so all messages of one job pass through one
/// queue in order. `conns_atom` is answered from the store's job index.
///
/// ~~~
/// // job_protocol, for any job id, and:
///
/// // Timer: passes a tick to every job in memory, for their idle checks.
/// (tick_atom) -> void
///
/// // From a job actor with nothing worth keeping in memory, after it
/// // handled `handled` messages from the directory; the directory stops it
/// // when it routed no more than that.
/// (idle_atom, std::string job_id, uint64_t handled) -> void
/// ~~~
using directory_actor
  = job_protocol::extend<caf::reacts_to<idle_atom, std::string, uint64_t>,
                         caf::reacts_to<tick_atom>>;

/// The only writer of the LMDB store. Writes that arrive together commit in
/// one transaction (group commit); each is answered after its commit.
///
/// ~~~
/// // Stores a batch of one job's events with the job's new record.
/// // Errors: storage_full (the map cannot grow further), internal.
/// (store_atom, job_record job, std::vector<stored_event> events)
///   -> uint64_t last_seq
///
/// // Writes a connection record and, for an open one, its job index
/// // entries.
/// (conn_put_atom, connection_record rec) -> void
///
/// // An open connection's progress (what it was sent, its last activity),
/// // its job index unchanged: kept in memory and written with the others
/// // in one commit within `progress_interval`. A later conn_put of the
/// // connection replaces it; a resume takes it over.
/// (conn_progress_atom, connection_record rec) -> void
///
/// // A connection opened: known for `resume` while open, stored once it
/// // has something to keep (a subscription, activity, its close). `owner`:
/// // its token's `sub` with access control on, else empty.
/// (conn_open_atom, std::string connection_id, std::string owner) -> void
///
/// // Takes over the record of `earlier` for the connection `current`: the
/// // earlier record is removed and returned; if `earlier` is still open,
/// // it is told to close. A non-empty `owner` (access control on) must be
/// // the earlier connection's.
/// // Errors: connection_not_found (unknown or expired), unauthorized
/// // (another owner's; nothing is taken over).
/// (resume_atom, std::string earlier, std::string current,
///  std::string owner) -> connection_record
///
/// // For a resume of a connection still open: per job, the last seq its
/// // peer's TCP acknowledged, when that is all it was sent (else empty),
/// // from its session, or empty from the registry's own timeout. The
/// // first answer completes the resume.
/// (acked_atom, std::string connection_id, std::vector<followed_job> acked)
///   -> void
///
/// // To itself: commit what has gathered.
/// (flush_atom) -> void
///
/// // Timer: write the progress records gathered.
/// (progress_atom) -> void
///
/// // Timer: remove a batch of expired records.
/// (sweep_atom) -> void
/// ~~~
using registry_actor = caf::typed_actor<
  caf::replies_to<store_atom, job_record, std::vector<stored_event>>::with<
    uint64_t>,
  caf::reacts_to<conn_put_atom, connection_record>,
  caf::reacts_to<conn_progress_atom, connection_record>,
  caf::reacts_to<conn_open_atom, std::string, std::string>,
  caf::replies_to<resume_atom, std::string, std::string, std::string>::with<
    connection_record>,
  caf::reacts_to<acked_atom, std::string, std::vector<followed_job>>,
  caf::reacts_to<flush_atom>, caf::reacts_to<progress_atom>,
  caf::reacts_to<sweep_atom>>;

} // namespace jobwire
