#include "net/http_route.hpp"

namespace jobwire {

http_route route_target(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  if (path == "/")
    return {endpoint::watch_page, {}, "GET"};
  if (path == "/v1/ws")
    return {endpoint::websocket, {}, "GET"};
  if (path == "/healthz")
    return {endpoint::healthz, {}, "GET"};
  if (path == "/metrics")
    return {endpoint::metrics, {}, "GET"};
  constexpr std::string_view prefix = "/v1/jobs/";
  if (!path.starts_with(prefix))
    return {};
  auto rest = path.substr(prefix.size());
  auto slash = rest.find('/');
  auto job_id = std::string{rest.substr(0, slash)};
  if (slash == std::string_view::npos)
    return {endpoint::job, job_id, "GET"};
  auto tail = rest.substr(slash + 1);
  if (tail == "events")
    return {endpoint::job_events, job_id, "POST"};
  if (tail == "cancel")
    return {endpoint::job_cancel, job_id, "POST"};
  if (tail == "connections")
    return {endpoint::job_connections, job_id, "GET"};
  return {};
}

} // namespace jobwire
