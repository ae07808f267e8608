#pragma once

#include <string>
#include <string_view>

namespace jobwire {

/// The endpoints of PROTOCOL.md.
enum class endpoint {
  not_found,
  watch_page,
  websocket,
  healthz,
  metrics,
  job,
  job_events,
  job_cancel,
  job_connections,
};

/// Where a request target leads, before any method check.
struct http_route {
  endpoint target = endpoint::not_found;
  /// The path's job id, unchecked (callers validate it).
  std::string job_id;
  /// The one method the endpoint takes.
  std::string_view method;
};

/// Maps a request target (path and optional query) to its endpoint.
http_route route_target(std::string_view target);

/// `segment` with its %XX escapes decoded (JavaScript's encodeURIComponent
/// writes `job:1` as `job%3A1`); a `%` not followed by two hex digits stays,
/// and the job id check refuses it.
std::string percent_decoded(std::string_view segment);

} // namespace jobwire
