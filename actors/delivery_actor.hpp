#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <unordered_map>

#include "caf/replies_to.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/backoff.hpp"
#include "actors/frame_sink.hpp"
#include "messages/interfaces.hpp"

namespace jobwire {

/// Takes the frames a connection could not send at once (its session's
/// queue was full), keeps them in order, and writes them when there is
/// room, retrying with exponential backoff and full jitter. Local only, so
/// its interface lives here, next to the frame sink it carries.
///
/// ~~~
/// // Frame number `n` (counted by the owner) for `owner`'s session `sink`.
/// // While a connection has frames here, all its frames come here.
/// (park_atom, connection_actor owner, std::string connection_id,
///  sink_ref sink, frame_ptr frame, uint64_t n) -> void
///
/// // Timer: try again for `connection_id`; stale if `generation` is old.
/// (retry_atom, std::string connection_id, uint64_t generation) -> void
/// ~~~
using delivery_actor = caf::typed_actor<
  caf::reacts_to<park_atom, connection_actor, std::string, sink_ref, frame_ptr,
                 uint64_t>,
  caf::reacts_to<retry_atom, std::string, uint64_t>>;

/// Limits and timing of the delivery actor.
struct delivery_settings {
  backoff_policy backoff;
  /// A connection whose frames wait longer than this is closed with 1013.
  std::chrono::milliseconds slow_consumer{10000};
  /// The session queue's bounds, which frames are written into.
  size_t max_queue_bytes = 1 << 20;
  size_t max_queue_frames = 4096;
  /// Frames parked per connection, at most; past it the connection is too
  /// slow already.
  size_t max_parked_bytes = 4 << 20;
  /// Seeds the jitter; tests pin it.
  uint64_t seed = std::random_device{}();
};

/// A parked frame; `coalesced` counts the progress updates it replaced.
struct parked_frame {
  frame_ptr frame;
  uint32_t coalesced = 0;
  uint64_t n = 0;
};

/// One connection's frames waiting for room.
struct parked_connection {
  connection_actor owner;
  sink_ref sink;
  std::deque<parked_frame> frames;
  size_t bytes = 0;
  uint32_t attempts = 0;
  uint64_t generation = 0;
  caf::actor_clock::time_point behind_since;
};

/// The state of the delivery actor.
struct delivery_state {
  delivery_settings settings;
  std::unordered_map<std::string, parked_connection> parked;
  uint64_t next_generation = 0;
  std::minstd_rand rng;

  static inline const char* name = "jobwire.delivery";
};

delivery_actor::behavior_type
delivery_impl(delivery_actor::stateful_pointer<delivery_state> self,
              delivery_settings settings);

/// Whether `sink` may take `frames` frames of `bytes` in all now. An empty
/// queue takes any one frame, however large, or it would never go.
bool has_room(const frame_sink& sink, size_t frames, size_t bytes,
              size_t max_bytes, size_t max_frames);

} // namespace jobwire
