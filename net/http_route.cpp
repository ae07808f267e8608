#include "net/http_route.hpp"

namespace jobwire {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

} // namespace

std::string percent_decoded(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size()
        && hex_value(segment[i + 1]) >= 0 && hex_value(segment[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(segment[i + 1]) * 16
                                      + hex_value(segment[i + 2])));
      i += 2;
    } else {
      out.push_back(segment[i]);
    }
  }
  return out;
}

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
  auto job_id = percent_decoded(rest.substr(0, slash));
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
