#pragma once

#include <string>
#include <string_view>

namespace jobwire {

/// `host:port`, with an IPv6 address in brackets so that the port stands
/// apart (as in a URL).
inline std::string host_port(std::string_view host, unsigned port) {
  auto bracket = host.find(':') != std::string_view::npos;
  return (bracket ? "[" + std::string{host} + "]" : std::string{host}) + ":"
         + std::to_string(port);
}

} // namespace jobwire
