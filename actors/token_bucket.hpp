#pragma once

#include <algorithm>
#include <chrono>

namespace jobwire {

/// Allows `rate` actions per second on average, `burst` at once. The clock
/// is an argument, so tests need no sleeps.
class token_bucket {
public:
  using time_point = std::chrono::steady_clock::time_point;

  token_bucket(double rate, double burst) : rate_(rate), burst_(burst) {
    tokens_ = burst;
  }

  /// Takes one token; false when none is left.
  bool take(time_point now) {
    if (started_) {
      std::chrono::duration<double> dt = now - last_;
      tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
    }
    started_ = true;
    last_ = now;
    if (tokens_ < 1.0)
      return false;
    tokens_ -= 1.0;
    return true;
  }

private:
  double rate_;
  double burst_;
  double tokens_;
  time_point last_{};
  bool started_ = false;
};

} // namespace jobwire
