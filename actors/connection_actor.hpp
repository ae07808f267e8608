#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_set>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/frame_sink.hpp"
#include "messages/interfaces.hpp"

namespace jobwire {

/// Settings every connection actor shares.
struct connection_settings {
  unsigned heartbeat_seconds = 25;
  size_t max_subscriptions = 128;
};

/// The state of one connection actor.
struct connection_state {
  std::weak_ptr<frame_sink> sink;
  std::string connection_id;
  registry_actor registry;
  connection_settings settings;
  /// Jobs this connection has subscribed to and not left.
  std::unordered_set<std::string> subscriptions;

  static inline const char* name = "jobwire.connection";
};

/// Runs one WebSocket session's side of the protocol: sends the `connected`
/// frame, answers what it can itself (ping, limits, parse errors) and routes
/// job commands through `registry`.
connection_actor::behavior_type
connection_impl(connection_actor::stateful_pointer<connection_state> self,
                std::weak_ptr<frame_sink> sink, std::string connection_id,
                registry_actor registry, connection_settings settings);

} // namespace jobwire
