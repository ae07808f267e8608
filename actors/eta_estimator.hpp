#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace jobwire {

/// Estimates the seconds a job has left in its current stage from the rate
/// of its progress since the stage began. Progress going backwards (below
/// the last point) or a new stage starts the measurement again.
class eta_estimator {
public:
  using time_point = std::chrono::steady_clock::time_point;

  /// Records a progress point and returns the estimate, or nothing while
  /// there are fewer than two points or progress is not moving forward.
  std::optional<double> update(const std::string& stage, double progress,
                               time_point now);

private:
  std::string stage_;
  double start_progress_ = 0;
  double last_progress_ = 0;
  time_point start_time_{};
  bool started_ = false;
};

} // namespace jobwire
