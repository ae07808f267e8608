#pragma once

#include <memory>
#include <string>

#include "caf/allowed_unsafe_message_type.hpp"

namespace jobwire {

/// One serialised server-to-client message. Immutable once made, so a job
/// actor serialises an event once and every subscriber's send shares it.
using frame_ptr = std::shared_ptr<const std::string>;

inline frame_ptr make_frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

} // namespace jobwire

// A frame never leaves the process: connection actors are local.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobwire::frame_ptr)
