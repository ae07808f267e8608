#pragma once

#include <array>
#include <string_view>

#include "net/http_header.hpp"

namespace jobwire {

/// The page served at `/`: a browser watches one job over /v1/ws (with the
/// page's own `?token=` when given), sees its progress and events, and may
/// cancel it. It reconnects with backoff and subscribes again from the last
/// seq it showed, so a restart or a dropped connection loses nothing.
/// Static: it holds no data of any job.
std::string_view watch_page();

inline constexpr std::string_view watch_page_content_type
  = "text/html; charset=utf-8";

/// What the page is served with besides its type: it may load nothing and
/// connect only back, and sends no Referer (its URL may hold a token).
inline constexpr std::array<http_header, 4> watch_page_headers{{
  {"Content-Security-Policy",
   "default-src 'none'; script-src 'unsafe-inline'; "
   "style-src 'unsafe-inline'; connect-src 'self' ws: wss:; "
   "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
  {"X-Content-Type-Options", "nosniff"},
  {"Referrer-Policy", "no-referrer"},
  {"Cache-Control", "no-cache"},
}};

} // namespace jobwire
