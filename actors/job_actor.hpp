#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "caf/actor_addr.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/eta_estimator.hpp"
#include "messages/interfaces.hpp"
#include "persistence/event_log.hpp"

namespace jobwire {

/// A connection that follows a job.
struct job_subscriber {
  connection_actor handle;
  std::string connection_id;
  /// The highest seq this connection has been sent.
  uint64_t last_sent = 0;
};

/// The state of one job actor.
struct job_state {
  job_snapshot snapshot;
  event_log log;
  eta_estimator eta;
  /// event_id -> the seq it was stored with, so a retried publish is
  /// acknowledged and not stored twice.
  std::unordered_map<std::string, uint64_t> event_ids;
  std::unordered_map<caf::actor_addr, job_subscriber> subscribers;
  /// Messages taken from the registry; see registry_actor's idle protocol.
  uint64_t handled = 0;
  registry_actor registry;

  static inline const char* name = "jobwire.job";
};

/// Runs the job `job_id`; reports to `registry` when it holds nothing.
job_actor::behavior_type job_impl(job_actor::stateful_pointer<job_state> self,
                                  std::string job_id, registry_actor registry);

} // namespace jobwire
