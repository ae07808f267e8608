#pragma once

#include <atomic>
#include <memory>

#include "caf/fwd.hpp"

#include "actors/delivery_actor.hpp"
#include "actors/job_api.hpp"
#include "messages/interfaces.hpp"
#include "net/address_count.hpp"
#include "net/io_gate.hpp"
#include "net/server_settings.hpp"
#include "net/session_set.hpp"

namespace jobwire {

/// What every session of one server shares. Outlives all sessions.
struct server_context {
  caf::actor_system& sys;
  directory_actor directory;
  registry_actor registry;
  delivery_actor delivery;
  job_api api;
  server_settings settings;
  session_set sessions{};
  /// Closed before the io_context goes; sessions and API callbacks keep it.
  io_gate_ptr gate = std::make_shared<io_gate>();
  /// HTTP sessions alive (handshakes and API clients).
  std::atomic<size_t> http_sessions{0};
  /// The same per client address: one may hold at most half of
  /// `settings.max_pending_handshakes`, so that it cannot lock others out.
  address_count http_sessions_by_address{};
  /// Set on SIGTERM/SIGINT: /healthz answers 503.
  std::atomic<bool> draining{false};
  /// Connection actors still running; shared, since they may outlive us.
  std::shared_ptr<std::atomic<size_t>> live_connections
    = std::make_shared<std::atomic<size_t>>(0);
  /// `settings.connection`, shared by every connection actor (they may
  /// outlive the server). Made from `settings`, so declared after it.
  std::shared_ptr<const connection_settings> connection_actor_settings
    = std::make_shared<const connection_settings>(settings.connection);
};

} // namespace jobwire
