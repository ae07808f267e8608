#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/job_actor.hpp"
#include "messages/interfaces.hpp"
#include "persistence/storage.hpp"

namespace jobwire {

/// A job actor the directory routes to.
struct job_entry {
  job_actor handle;
  /// Messages routed to it, compared with its `handled` count on idle.
  uint64_t routed = 0;
};

/// The state of the directory actor.
struct directory_state {
  std::shared_ptr<storage> db;
  registry_actor registry;
  job_settings settings;
  std::unordered_map<std::string, job_entry> jobs;
  /// Running jobs due to be looked at whose records cannot be read: logged
  /// once and passed over, so that they do not take every look's places.
  std::unordered_set<std::string> unreadable;
  /// Job actors stopped since freed memory was last handed back.
  size_t stopped_since_trim = 0;
  /// When jobs were last asked to leave as `max_live` were in memory.
  std::chrono::steady_clock::time_point last_shed;

  static inline const char* name = "jobwire.directory";
};

/// Routes every job message to its job actor, activating it from the store
/// on demand (a subscribe or publish may also start a new job). Answers for
/// jobs that do not exist: job_not_found, or an empty connection list.
directory_actor::behavior_type
directory_impl(directory_actor::stateful_pointer<directory_state> self,
               std::shared_ptr<storage> db, registry_actor registry,
               job_settings settings);

} // namespace jobwire
