#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

namespace jobwire::pipeline {

/// How retries space out: exponential growth from `initial` by `factor` per
/// attempt, capped at `max`, spread by `jitter` so that many pipelines that
/// lost the server at once do not come back in lockstep.
struct backoff_policy {
  /// Delay before the first retry (before jitter).
  std::chrono::milliseconds initial{100};
  /// Longest delay, jitter included.
  std::chrono::milliseconds max{5000};
  /// Growth per attempt; values below 1 count as 1.
  double factor = 2.0;
  /// Fraction of the delay that is random: 0.2 gives 80% to 120% of the
  /// exponential value (clamped to [0, 1]).
  double jitter = 0.2;
};

/// The delay before retry number `attempt` (0 for the first retry), given a
/// random draw `u` from [0, 1] (clamped; 0.5 means no jitter). Pure: equal
/// arguments give equal delays, so tests need no clock and no randomness.
///
/// delay = min(max, initial * factor^attempt * (1 - jitter + 2 * jitter * u))
constexpr std::chrono::milliseconds next_delay(unsigned attempt, double u = 0.5,
                                               const backoff_policy& p = {}) {
  auto cap = static_cast<double>(std::max<int64_t>(p.max.count(), 0));
  auto base = std::clamp(static_cast<double>(p.initial.count()), 0.0, cap);
  auto factor = p.factor >= 1.0 ? p.factor : 1.0; // also catches NaN
  // Grow step by step and stop at the cap: no overflow for any attempt.
  for (unsigned i = 0; i < attempt && base < cap; ++i)
    base *= factor;
  base = std::min(base, cap);
  auto jitter = p.jitter >= 0.0 ? std::min(p.jitter, 1.0) : 0.0;
  auto draw = u >= 0.0 ? std::min(u, 1.0) : 0.0;
  auto delay = base * (1.0 - jitter + 2.0 * jitter * draw);
  delay = std::clamp(delay, 0.0, cap);
  return std::chrono::milliseconds{static_cast<int64_t>(delay)};
}

/// `next_delay` with `u` drawn from a thread-local generator.
inline std::chrono::milliseconds
next_delay_jittered(unsigned attempt, const backoff_policy& p = {}) {
  thread_local std::minstd_rand gen{std::random_device{}()};
  std::uniform_real_distribution<double> dist{0.0, 1.0};
  return next_delay(attempt, dist(gen), p);
}

} // namespace jobwire::pipeline
