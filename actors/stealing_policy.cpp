#include "actors/stealing_policy.hpp"

#include <algorithm>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/defaults.hpp"
#include "caf/scheduler/coordinator.hpp"
#include "caf/settings.hpp"

namespace jobwire {

namespace {

/// A count from CAF's `work-stealing.*` options; at least 1 where it
/// divides.
size_t count_option(const caf::actor_system_config& cfg, const char* key,
                    size_t fallback, size_t at_least) {
  return std::max(caf::get_or(cfg, key, fallback), at_least);
}

} // namespace

stealing_policy::worker_data::worker_data(
  caf::scheduler::abstract_coordinator* parent)
  : rng(std::random_device{}()) {
  namespace defaults = caf::defaults::work_stealing;
  const auto& cfg = parent->system().config();
  aggressive_attempts = count_option(cfg,
                                     "work-stealing.aggressive-poll-attempts",
                                     defaults::aggressive_poll_attempts, 0);
  aggressive_steal_every = count_option(
    cfg, "work-stealing.aggressive-steal-interval",
    defaults::aggressive_steal_interval, 1);
  moderate_attempts = count_option(cfg, "work-stealing.moderate-poll-attempts",
                                   defaults::moderate_poll_attempts, 0);
  moderate_steal_every = count_option(cfg,
                                      "work-stealing.moderate-steal-interval",
                                      defaults::moderate_steal_interval, 1);
  moderate_sleep = caf::get_or(cfg, "work-stealing.moderate-sleep-duration",
                               defaults::moderate_sleep_duration);
  relaxed_steal_every = count_option(cfg,
                                     "work-stealing.relaxed-steal-interval",
                                     defaults::relaxed_steal_interval, 1);
  relaxed_sleep = caf::get_or(cfg, "work-stealing.relaxed-sleep-duration",
                              defaults::relaxed_sleep_duration);
}

stealing_policy::worker_data::worker_data(const worker_data& other)
  : rng(std::random_device{}()),
    aggressive_attempts(other.aggressive_attempts),
    aggressive_steal_every(other.aggressive_steal_every),
    moderate_attempts(other.moderate_attempts),
    moderate_steal_every(other.moderate_steal_every),
    moderate_sleep(other.moderate_sleep),
    relaxed_steal_every(other.relaxed_steal_every),
    relaxed_sleep(other.relaxed_sleep) {
  // nop: each worker has its own queue, lock and sleep
}

void use_stealing_policy(caf::actor_system_config& cfg) {
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* {
      return new caf::scheduler::coordinator<stealing_policy>(sys);
    });
}

} // namespace jobwire
