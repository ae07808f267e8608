#include "persistence/event_log.hpp"

#include <stdexcept>

namespace jobwire {

void event_log::append(uint64_t seq, frame_ptr frame) {
  // A gap or reuse here would break the delivery promise: fail loudly.
  if (seq != last_seq() + 1)
    throw std::logic_error("event_log: seq out of order");
  frames_.push_back(std::move(frame));
}

} // namespace jobwire
