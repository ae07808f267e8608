#pragma once

// The configuration of unit tests that run actors on CAF's deterministic
// scheduler: no threads and no sleeps, time advanced by the test.

#include "caf/all.hpp"

#include "messages/log.hpp"
#include "messages/register_types.hpp"

namespace jobwire::test {

struct deterministic_config : caf::actor_system_config {
  /// `log_level`: what the actors may log meanwhile ("off" for none).
  explicit deterministic_config(const char* log_level = "off") {
    log::init(log_level);
    register_types(*this);
    set("scheduler.policy", caf::atom("testing"));
  }
};

/// The actor system of such a test and its scheduler, for fixtures to
/// derive from.
struct deterministic_system {
  explicit deterministic_system(const char* log_level = "off")
    : cfg(log_level) {
    // nop
  }

  deterministic_config cfg;
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
};

} // namespace jobwire::test
