#include "messages/job_event.hpp"

#include <array>
#include <utility>

namespace jobwire {

namespace {

constexpr std::array<std::pair<std::string_view, event_type>, 5> names{{
  {"progress_update", event_type::progress_update},
  {"stage_complete", event_type::stage_complete},
  {"job_complete", event_type::job_complete},
  {"job_failed", event_type::job_failed},
  {"job_cancelled", event_type::job_cancelled},
}};

} // namespace

std::string_view to_string(event_type x) {
  return names[static_cast<size_t>(x)].first;
}

bool from_string(std::string_view name, event_type& x) {
  for (auto& [str, val] : names)
    if (str == name) {
      x = val;
      return true;
    }
  return false;
}

} // namespace jobwire
