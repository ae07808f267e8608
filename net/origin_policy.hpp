#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace jobwire {

/// Which web pages a browser may talk to jobwire from. Browsers name the
/// page's origin in an `Origin` header on WebSocket upgrades and on
/// cross-site POSTs; programs send none. Any page may otherwise open a
/// WebSocket to a server on the user's loopback, or POST a forged event or
/// cancel to it, since a plain-text POST needs no CORS preflight.
class origin_policy {
public:
  /// Only the server's own pages (the watch page).
  origin_policy() = default;

  /// From `--allowed-origins`: comma-separated origins (`*`: any page),
  /// spaces around each ignored. A trailing `/` and a scheme's default port
  /// are dropped, as browsers send neither.
  static origin_policy parse(std::string_view list);

  /// What is wrong with the first entry of `list` that no browser's Origin
  /// could match (no `scheme://`, a path, a wildcard host), or "".
  static std::string check(std::string_view list);

  /// Whether a request with `origin` (empty: none sent) to `host` (its
  /// Host header) may go on: no Origin, a page of this server (same host and
  /// port), or a listed one. Scheme and host compare without case, as
  /// browsers write them in lower case.
  bool allows(std::string_view origin, std::string_view host) const;

private:
  bool any_ = false;
  /// In lower case.
  std::vector<std::string> origins_;
};

} // namespace jobwire
