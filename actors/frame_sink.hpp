#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <memory>

#include "caf/allowed_unsafe_message_type.hpp"

#include "messages/frame.hpp"
#include "messages/records.hpp"

namespace jobwire {

/// What a connection actor sees of its WebSocket session. net/ implements
/// it; both calls are thread-safe and return at once (they post onto the
/// session's strand).
class frame_sink {
public:
  virtual ~frame_sink() = default;

  /// Queues `frame` for sending, after every frame queued before it.
  virtual void send(frame_ptr frame) = 0;

  /// Queues `frames` in order, after every frame queued before them.
  virtual void send(frame_batch frames) = 0;

  /// Sends the close frame `code` with `reason` after the queued frames.
  virtual void close(uint16_t code, std::string reason) = 0;

  /// Bytes queued and not yet written, including what `send` has posted.
  /// Readable from any thread; only the one producer makes it grow.
  virtual size_t queued_bytes() const = 0;

  /// Frames queued and not yet written (as `queued_bytes`).
  virtual size_t queued_frames() const = 0;

  /// A close is under way: frames sent now are dropped.
  virtual bool closing() const = 0;

  /// Per job, the last seq actually written to the socket.
  virtual std::vector<followed_job> written() const = 0;

  /// Calls `done` (on an io thread, or here when the session is gone) with
  /// `written()` if the peer's TCP has acknowledged every byte written,
  /// else with nothing: then some of it may never have arrived.
  virtual void
  acknowledged(std::function<void(std::vector<followed_job>)> done) = 0;
};

/// How actors hold a session: it may go at any time.
using sink_ref = std::weak_ptr<frame_sink>;

} // namespace jobwire

// Local only, like frames.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobwire::sink_ref)
