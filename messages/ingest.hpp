#pragma once

#include <cstdint>
#include <string>

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "messages/atoms.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"

namespace jobwire {

/// A pipeline process's worker: what jobwire sends to the workers attached
/// to a job.
///
/// ~~~
/// // Someone asked to cancel `job_id`; the worker should stop and publish
/// // job_cancelled (with `reason`).
/// (cancel_atom, std::string job_id, std::string reason) -> void
/// ~~~
using worker_actor
  = caf::typed_actor<caf::reacts_to<cancel_atom, std::string, std::string>>;

/// The server's ingest actor, published on `--caf-port` for pipeline
/// processes (`remote_actor<ingest_actor>(host, port)`).
///
/// ~~~
/// // Publishes one job event (no seq, no timestamp: the server stamps
/// // them). Replies once the event is stored, with the job and its seq. An
/// // event whose `event_id` the job already has is answered with the seq
/// // it got the first time and not stored again.
/// // Errors: invalid_job_id, invalid_message (a field out of range),
/// // job_finished, storage_full, rate_limited.
/// (publish_atom, job_event ev) -> (std::string job_id, uint64_t seq)
///
/// // Attaches `worker` to `job_id`: it receives cancel requests, and while
/// // a running job has no attached worker for `--worker-grace` seconds
/// // the server fails it with `worker_lost`. Replies with the snapshot.
/// // Errors: invalid_job_id.
/// (attach_atom, std::string job_id, worker_actor worker) -> job_snapshot
///
/// // Detaches `worker` from `job_id`.
/// (detach_atom, std::string job_id, worker_actor worker) -> void
///
/// // The job's snapshot. Errors: invalid_job_id, job_not_found.
/// (status_atom, std::string job_id) -> job_snapshot
/// ~~~
using ingest_actor = caf::typed_actor<
  caf::replies_to<publish_atom, job_event>::with<std::string, uint64_t>,
  caf::replies_to<attach_atom, std::string, worker_actor>::with<job_snapshot>,
  caf::reacts_to<detach_atom, std::string, worker_actor>,
  caf::replies_to<status_atom, std::string>::with<job_snapshot>>;

} // namespace jobwire
