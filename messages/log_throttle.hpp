#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

namespace jobwire::log {

/// Lets one line through per period and counts the ones it holds back, so
/// that a fault met by every request (a full store refuses each publish)
/// is logged with its rate, not once per request. Thread-safe.
class throttle {
public:
  using clock_type = std::chrono::steady_clock;

  explicit throttle(clock_type::duration period) : period_(period) {
    // nop
  }

  /// Whether to write the line now: the number of lines held back since
  /// the last one written, or none when this one is held back too.
  std::optional<uint64_t> admit(clock_type::time_point now = clock_type::now()) {
    std::lock_guard guard{mtx_};
    if (written_ && now < next_) {
      ++held_back_;
      return std::nullopt;
    }
    written_ = true;
    next_ = now + period_;
    auto result = held_back_;
    held_back_ = 0;
    return result;
  }

private:
  const clock_type::duration period_;
  std::mutex mtx_;
  bool written_ = false;
  clock_type::time_point next_{};
  uint64_t held_back_ = 0;
};

} // namespace jobwire::log
