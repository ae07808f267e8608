#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "messages/atoms.hpp"
#include "messages/client_command.hpp"
#include "messages/frame.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"

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
/// // The session has gone; the actor quits.
/// (closed_atom) -> void
/// ~~~
using connection_actor
  = caf::typed_actor<caf::reacts_to<command_atom, client_command>,
                     caf::reacts_to<frame_atom, frame_ptr>,
                     caf::reacts_to<closed_atom>>;

/// One job: assigns seq, keeps the snapshot and the stored events, fans
/// events out to its subscribers.
///
/// ~~~
/// // Stores `ev` and sends it to every subscriber.
/// // Errors: job_finished (after a terminal event), invalid_message.
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
/// // Cancels the job (no worker attached: at once), with `reason`.
/// // Errors: job_not_found, job_finished.
/// (cancel_atom, std::string job_id, std::string reason) -> job_snapshot
///
/// // The connection ids subscribed to the job.
/// (conns_atom, std::string job_id) -> std::vector<std::string>
/// ~~~
using job_actor = caf::typed_actor<
  caf::replies_to<publish_atom, job_event>::with<uint64_t>,
  caf::reacts_to<command_atom, client_command, connection_actor, std::string>,
  caf::replies_to<status_atom, std::string>::with<job_snapshot>,
  caf::replies_to<cancel_atom, std::string, std::string>::with<job_snapshot>,
  caf::replies_to<conns_atom, std::string>::with<std::vector<std::string>>>;

/// Knows every job actor in memory and routes each job's messages to it,
/// spawning it on demand. It speaks `job_actor`'s protocol for any job id,
/// so all messages of one job pass through one queue in order.
///
/// ~~~
/// // From a job actor that holds no events and no subscribers after it
/// // handled `handled` messages from the registry; the registry stops it
/// // when it routed no more than that.
/// (idle_atom, std::string job_id, uint64_t handled) -> void
/// ~~~
using registry_actor
  = job_actor::extend<caf::reacts_to<idle_atom, std::string, uint64_t>>;

} // namespace jobwire
