#pragma once

#include "caf/fwd.hpp"

namespace jobwire {

/// Registers every type that crosses an actor boundary, and the error
/// category. The server and pipeline processes call it alike.
void register_types(caf::actor_system_config& cfg);

} // namespace jobwire
