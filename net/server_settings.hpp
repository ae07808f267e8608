#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/connection_actor.hpp"
#include "net/origin_policy.hpp"

namespace jobwire {

/// What the HTTP and WebSocket side of the server is configured with.
struct server_settings {
  std::string bind = "127.0.0.1";
  uint16_t port = 8080;
  /// Largest HTTP body and WebSocket message (after joining fragments).
  size_t max_message_bytes = 65536;
  /// Largest HTTP request head (request line and headers).
  uint32_t max_header_bytes = 8192;
  /// Frames one WebSocket message may be split into.
  size_t max_fragments = 1024;
  /// Bytes queued for one WebSocket client before it counts as too slow.
  size_t max_queue_bytes = 1 << 20;
  /// SO_SNDBUF of every accepted socket; 0 leaves the kernel's autotuning,
  /// which lets a client that stopped reading hold up to tcp_wmem's
  /// maximum (4 MiB here) of kernel memory besides its queue.
  size_t socket_send_buffer = 256 * 1024;
  /// Time to send a whole HTTP request or finish the WebSocket handshake.
  std::chrono::milliseconds handshake_timeout{10000};
  unsigned io_threads = 1;
  /// On SIGTERM: how long clients get to receive what is queued, the
  /// resume hint and the close.
  std::chrono::milliseconds drain{10000};
  /// The `retry_after_ms` of the resume hint.
  unsigned resume_after_ms = 1000;
  connection_settings connection;
  /// WebSocket connections in all, and from one client address.
  size_t max_connections = 100000;
  size_t max_connections_per_address = 10000;
  /// TCP connections still in HTTP (not upgraded) at once; more are closed
  /// at accept (slowloris).
  size_t max_pending_handshakes = 1024;
  /// Descriptors that client sockets (HTTP and WebSocket) may hold in all:
  /// the process's limit less what is kept for the CAF port's pipelines and
  /// the server's own files. More are closed at accept.
  size_t client_descriptors = SIZE_MAX;
  /// The pages a browser may upgrade or POST from.
  origin_policy origins;
};

} // namespace jobwire
