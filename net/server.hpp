#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "caf/fwd.hpp"

#include "messages/interfaces.hpp"
#include "net/server_context.hpp"
#include "net/server_settings.hpp"

namespace jobwire {

class heartbeat;

class listener;

/// The HTTP and WebSocket side: io threads, the listener, signal handling
/// and the orderly stop.
class server {
public:
  server(caf::actor_system& sys, directory_actor directory,
         registry_actor registry, delivery_actor delivery,
         server_settings settings);

  /// Destroys the sessions, then waits (briefly) until their connection
  /// actors have written their final records and quit.
  ~server();

  /// Binds the port; on failure returns false and sets `error`.
  bool open(std::string& error);

  /// The bound port (the real one when configured with port 0).
  uint16_t port() const;

  /// Serves until SIGINT, SIGTERM or SIGHUP, then drains: /healthz answers 503,
  /// no more accepts, every WebSocket client gets what is queued for it, a
  /// `resume_hint` and close 1012, within the drain time; then the io
  /// threads are joined.
  /// `ready` runs once those signals are handled and the listener
  /// accepts, so whoever it tells may stop the server cleanly at once.
  void run_until_signal(const std::function<void()>& ready);

private:
  // Declared first so it outlives the io_context, whose destruction
  // destroys sessions that still point at it.
  server_context ctx_;
  std::unique_ptr<boost::asio::io_context> ioc_;
  std::shared_ptr<listener> listener_;
  std::unique_ptr<heartbeat> heartbeat_;
  std::vector<std::thread> threads_;
};

} // namespace jobwire
