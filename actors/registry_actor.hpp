#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "messages/interfaces.hpp"

namespace jobwire {

/// A job actor the registry routes to.
struct job_entry {
  job_actor handle;
  /// Messages routed to it, compared with its `handled` count on idle.
  uint64_t routed = 0;
};

/// The state of the registry actor.
struct registry_state {
  std::unordered_map<std::string, job_entry> jobs;

  static inline const char* name = "jobwire.registry";
};

/// Routes every job message to its job actor, spawning it on a subscribe or
/// a publish. Answers for jobs it does not hold: job_not_found, or an empty
/// connection list.
registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self);

} // namespace jobwire
