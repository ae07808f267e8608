#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json_value.hpp"

namespace jobwire::test {

/// One WebSocket message as received.
struct ws_frame {
  bool text = true;
  std::string payload;
};

/// How a WebSocket connection ended.
struct ws_close_info {
  /// The server sent a close frame (`code` and `reason` are valid).
  bool close_frame = false;
  uint16_t code = 0;
  std::string reason;
  /// The error that ended the read loop, e.g. "end of stream".
  std::string error;
  /// Messages that arrived before the close.
  std::vector<ws_frame> before;

  std::string to_string() const;
};

/// A synchronous WebSocket client (Boost.Beast) for tests. A read loop runs
/// whenever the client waits, so control frames are answered and messages
/// queue up in arrival order; waiting never breaks the stream.
class ws_client {
public:
  using duration = std::chrono::milliseconds;

  static constexpr duration default_timeout = std::chrono::seconds{5};

  // -- constructors, destructors ----------------------------------------------

  ws_client();
  ~ws_client();
  ws_client(ws_client&&) noexcept;
  ws_client& operator=(ws_client&&) noexcept;

  // -- connecting -------------------------------------------------------------

  /// Connects to 127.0.0.1:`port` and upgrades on `path`; throws
  /// `std::runtime_error` on failure.
  void connect(uint16_t port, std::string_view path = "/v1/ws",
               duration timeout = default_timeout);

  /// Like `connect` but returns the HTTP status of the upgrade response (101
  /// on success) or 0 when no response came.
  int try_connect(uint16_t port, std::string_view path = "/v1/ws",
                  duration timeout = default_timeout);

  /// Whether the connection is up and no close or error was seen.
  bool is_open() const;

  // -- sending ----------------------------------------------------------------

  /// Sends one text message in one frame; throws on failure.
  void send_text(std::string_view payload, duration timeout = default_timeout);

  /// Sends one binary message in one frame; throws on failure.
  void send_binary(std::string_view payload,
                   duration timeout = default_timeout);

  /// Starts the closing handshake with `code` and waits for its end.
  void close(uint16_t code = 1000, duration timeout = default_timeout);

  // -- receiving --------------------------------------------------------------

  /// The next message, or nothing when none arrived within `timeout` or the
  /// connection ended.
  std::optional<ws_frame> read_frame(duration timeout = default_timeout);

  /// The next message as JSON; throws when none arrives in time, it is not
  /// text or not valid JSON.
  json_value read_json(duration timeout = default_timeout);

  /// Reads messages until one satisfies `pred` and returns it; the others go
  /// to `skipped` when given. Throws on timeout.
  json_value read_until(const std::function<bool(const json_value&)>& pred,
                        duration timeout = default_timeout,
                        std::vector<json_value>* skipped = nullptr);

  /// Reads messages until one has `"type": type`.
  json_value read_type(std::string_view type,
                       duration timeout = default_timeout,
                       std::vector<json_value>* skipped = nullptr);

  /// Handles whatever has arrived without blocking; returns how many
  /// messages are queued.
  size_t poll();

  /// Messages queued and not yet read.
  size_t pending() const;

  /// Waits until the server ends the connection, collecting the messages
  /// that arrive before; `close_frame` is false on a timeout or a bare TCP
  /// close.
  ws_close_info wait_close(duration timeout = default_timeout);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace jobwire::test
