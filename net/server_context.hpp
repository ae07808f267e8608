#pragma once

#include "caf/fwd.hpp"

#include "actors/job_api.hpp"
#include "messages/interfaces.hpp"
#include "net/server_settings.hpp"
#include "net/session_set.hpp"

namespace jobwire {

/// What every session of one server shares. Outlives all sessions.
struct server_context {
  caf::actor_system& sys;
  registry_actor registry;
  job_api api;
  server_settings settings;
  session_set sessions;
};

} // namespace jobwire
