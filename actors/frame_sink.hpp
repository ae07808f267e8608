#pragma once

#include <cstdint>
#include <string>

#include "messages/frame.hpp"

namespace jobwire {

/// What a connection actor sees of its WebSocket session. net/ implements
/// it; both calls are thread-safe and return at once (they post onto the
/// session's strand).
class frame_sink {
public:
  virtual ~frame_sink() = default;

  /// Queues `frame` for sending, after every frame queued before it.
  virtual void send(frame_ptr frame) = 0;

  /// Sends the close frame `code` with `reason` after the queued frames.
  virtual void close(uint16_t code, std::string reason) = 0;
};

} // namespace jobwire
