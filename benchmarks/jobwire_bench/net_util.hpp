#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <netinet/in.h>

namespace jobwire::bench {

/// The server's address, resolved once.
struct target {
  std::string host;
  uint16_t port = 0;
  sockaddr_in addr{};
  /// "host:port" for the Host header.
  std::string host_header;
  /// "Authorization: Bearer ...\r\n" with --token, else empty.
  std::string auth_header;
  bool loopback = false;
};

/// Resolves `host` (IPv4) and `port`; an error text on failure.
std::string resolve_target(const std::string& host, uint16_t port,
                           target& out);

/// Starts a non-blocking connect to `to`, from `from` when given (a second
/// loopback address gives another 28k source ports). Returns the socket, or
/// -1 with `err` set. A `rcvbuf` > 0 fixes the socket's receive buffer.
int start_connect(const sockaddr_in& to, const sockaddr_in* from, int& err,
                  int rcvbuf = 0);

/// Pins the process to `cpu`; an error text on failure.
std::string pin_to_cpu(int cpu);

/// A reply of `http_request`.
struct http_reply {
  int status = 0;
  std::string body;
  std::string error;
};

/// One blocking HTTP/1.1 request on its own connection (for setup and
/// checks, not for load).
http_reply http_request(const target& t, const std::string& method,
                        const std::string& path, const std::string& body = {},
                        int timeout_ms = 5000);

} // namespace jobwire::bench
