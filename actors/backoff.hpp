#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace jobwire {

/// Retry timing: exponential backoff with full jitter.
struct backoff_policy {
  std::chrono::milliseconds base{50};
  double factor = 2.0;
  std::chrono::milliseconds cap{5000};
};

/// The delay before retry number `attempt` (0 for the first retry):
/// uniform in [0, min(cap, base * factor^attempt)), drawn with `unit`, a
/// random number in [0, 1). Pure, so tests can pin the randomness.
constexpr std::chrono::milliseconds
next_delay(const backoff_policy& p, uint32_t attempt, double unit) {
  double ceiling = static_cast<double>(p.base.count());
  auto cap = static_cast<double>(p.cap.count());
  for (uint32_t i = 0; i < attempt && ceiling < cap; ++i)
    ceiling *= p.factor;
  ceiling = std::min(ceiling, cap);
  unit = std::clamp(unit, 0.0, 1.0);
  return std::chrono::milliseconds{static_cast<int64_t>(ceiling * unit)};
}

} // namespace jobwire
