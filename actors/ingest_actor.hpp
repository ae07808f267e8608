#pragma once

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "messages/ingest.hpp"
#include "messages/interfaces.hpp"

namespace jobwire {

/// The state of the ingest actor.
struct ingest_state {
  // Not an aggregate: CAF would try to build it from the actor pointer.
  ingest_state() = default;

  directory_actor directory;
  /// Publishes handed on and not yet answered; at `max_pending` more are
  /// refused with rate_limited (a pipeline's client retries them), so a
  /// pipeline that publishes faster than the store keeps up cannot grow
  /// the server's memory without bound.
  size_t pending = 0;
  size_t max_pending = 0;
  /// Largest event, counted as the bytes of its text fields: the HTTP side
  /// bounds the whole body by --max-message-bytes, and so does this one.
  size_t max_event_bytes = 0;

  static inline const char* name = "jobwire.ingest";
};

/// What pipeline processes talk to over CAF's network layer: checks what
/// they send as carefully as the HTTP side does, then hands it to the
/// directory.
ingest_actor::behavior_type
ingest_impl(ingest_actor::stateful_pointer<ingest_state> self,
            directory_actor directory, size_t max_pending,
            size_t max_event_bytes);

} // namespace jobwire
