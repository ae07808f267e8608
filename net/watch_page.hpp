#pragma once

#include <string_view>

namespace jobwire {

/// The page served at `/`: a browser watches one job over /v1/ws (with the
/// page's own `?token=` when given), sees its progress and events, and may
/// cancel it. It reconnects with backoff and subscribes again from the last
/// seq it showed, so a restart or a dropped connection loses nothing.
/// Static: it holds no data of any job.
std::string_view watch_page();

/// Response headers of the page: what it may load and connect to, and no
/// Referer that would carry a token on.
inline constexpr std::string_view watch_page_security_policy
  = "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; connect-src 'self' ws: wss:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

} // namespace jobwire
