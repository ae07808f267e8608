#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace jobwire::bench {

/// Nanoseconds on the monotonic clock; publishers stamp events with it and
/// subscribers of the same process subtract it.
inline uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u
         + static_cast<uint64_t>(ts.tv_nsec);
}

/// Seconds between two `now_ns` readings.
inline double seconds_between(uint64_t from, uint64_t to) {
  return static_cast<double>(to - from) / 1e9;
}

/// Adds `n` to a counter that only one thread writes and others read: a
/// plain load and store, no locked instruction.
inline void bump(std::atomic<uint64_t>& x, uint64_t n = 1) {
  x.store(x.load(std::memory_order_relaxed) + n, std::memory_order_release);
}

} // namespace jobwire::bench
