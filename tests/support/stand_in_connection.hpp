#pragma once

// A connection-actor stand-in for unit tests of the actors that talk to
// connections (job, delivery, registry): it does nothing but what the test
// hooks in.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "messages/interfaces.hpp"

namespace jobwire::test {

/// What the stand-in does with the messages a test cares about; each may
/// be left empty.
struct connection_hooks {
  /// Each frame it is sent, one by one (batches too).
  std::function<void(const std::string&)> frame;
  /// The delivery actor's `sent` counts.
  std::function<void(uint64_t)> sent;
  /// The registry's resume_atom.
  std::function<void()> resumed;
};

/// Hooks with only `f` as the frame hook.
inline connection_hooks on_frame(std::function<void(const std::string&)> f) {
  connection_hooks h;
  h.frame = std::move(f);
  return h;
}

/// Hooks with only `f` as the `sent` hook.
inline connection_hooks on_sent(std::function<void(uint64_t)> f) {
  connection_hooks h;
  h.sent = std::move(f);
  return h;
}

/// Hooks with only `f` as the resume hook.
inline connection_hooks on_resumed(std::function<void()> f) {
  connection_hooks h;
  h.resumed = std::move(f);
  return h;
}

inline connection_actor::behavior_type
stand_in_connection(connection_actor::pointer self, connection_hooks hooks) {
  return {
    [](command_atom, client_command&) {},
    [hooks](frame_atom, frame_ptr& f) {
      if (hooks.frame)
        hooks.frame(f->text);
    },
    [hooks](frame_atom, const frame_batch& fs) {
      if (hooks.frame)
        for (auto& f : *fs)
          hooks.frame(f->text);
    },
    [](closed_atom, const std::vector<followed_job>&) {},
    [](tick_atom) {},
    [hooks](sent_atom, uint64_t n) {
      if (hooks.sent)
        hooks.sent(n);
    },
    [hooks](resume_atom) {
      if (hooks.resumed)
        hooks.resumed();
    },
    // A replay in steps: asks for the next at once, as a fast reader's
    // connection does.
    [self](replay_atom, const std::string&) {
      if (auto job = caf::actor_cast<job_actor>(self->current_sender()))
        self->send(job, replay_atom::value,
                   caf::actor_cast<connection_actor>(self));
    },
  };
}

} // namespace jobwire::test
