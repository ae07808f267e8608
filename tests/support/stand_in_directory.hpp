#pragma once

// A directory stand-in for unit tests of the actors in front of it (the
// HTTP bridge, the ingest actor): it answers publishes by job id, so a test
// decides what is stored, what fails and what waits.

#include <cstdint>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/interfaces.hpp"

namespace jobwire::test {

/// Publishes to job "stuck" wait until a tick (then seq 9), those to
/// "broken" fail with storage_full, every other one gets seq 7.
struct stand_in_directory_state {
  std::vector<caf::typed_response_promise<uint64_t>> held;
};

inline directory_actor::behavior_type stand_in_directory(
  directory_actor::stateful_pointer<stand_in_directory_state> self) {
  return {
    [self](publish_atom, job_event& ev) {
      auto rp = self->make_response_promise<uint64_t>();
      if (ev.job_id == "stuck")
        self->state.held.push_back(rp);
      else if (ev.job_id == "broken")
        rp.deliver(caf::make_error(error_code::storage_full, "full"));
      else
        rp.deliver(uint64_t{7});
      return rp;
    },
    [](command_atom, client_command&, connection_actor&, std::string&) {},
    [](status_atom, std::string&) { return job_snapshot{}; },
    [](cancel_atom, std::string&, std::string&) { return job_snapshot{}; },
    [](conns_atom, std::string&) { return std::vector<std::string>{}; },
    [](attach_atom, std::string&, worker_actor&) { return job_snapshot{}; },
    [](detach_atom, std::string&, worker_actor&) {},
    [](idle_atom, std::string&, uint64_t) {},
    // Answers what was held, late.
    [self](tick_atom) {
      for (auto& rp : self->state.held)
        rp.deliver(uint64_t{9});
      self->state.held.clear();
    },
  };
}

} // namespace jobwire::test
