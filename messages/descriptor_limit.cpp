#include "messages/descriptor_limit.hpp"

#include <algorithm>

#include <sys/resource.h>

namespace jobwire {

std::optional<descriptor_limit> raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return std::nullopt;
  descriptor_limit result;
  result.before = lim.rlim_cur;
  result.hard = lim.rlim_max;
  // An unlimited hard limit is not an unlimited kernel: 2^20 is its
  // default most (fs.nr_open).
  constexpr rlim_t most_when_unlimited = rlim_t{1} << 20;
  auto wanted = lim.rlim_max != RLIM_INFINITY
                  ? lim.rlim_max
                  : std::max(lim.rlim_cur, most_when_unlimited);
  if (wanted > lim.rlim_cur) {
    rlimit raised{wanted, lim.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0)
      lim.rlim_cur = wanted;
  }
  result.now = lim.rlim_cur;
  return result;
}

uint64_t client_descriptors(uint64_t limit) {
  constexpr uint64_t reserve = 256;
  return limit - std::min(reserve, limit / 4);
}

} // namespace jobwire
