#include "actors/eta_estimator.hpp"

#include <cmath>

namespace jobwire {

std::optional<double> eta_estimator::update(const std::string& stage,
                                            double progress, time_point now) {
  // Measured from the last step back, not from the start: 10, 100, 50
  // would otherwise be read as 40 points gained.
  auto went_back = progress < last_progress_;
  last_progress_ = progress;
  if (!started_ || stage != stage_ || went_back) {
    stage_ = stage;
    start_progress_ = progress;
    start_time_ = now;
    started_ = true;
    return std::nullopt;
  }
  using seconds = std::chrono::duration<double>;
  auto elapsed = std::chrono::duration_cast<seconds>(now - start_time_).count();
  auto done = progress - start_progress_;
  if (elapsed <= 0 || done <= 0)
    return std::nullopt;
  // Whole seconds: finer figures from a rate estimate would be false precision.
  auto eta = std::round((100.0 - progress) * elapsed / done);
  // A crawl (progress up by 1e-300, say) has no estimate worth giving, and
  // an infinite one must not reach the snapshot (`has_finite_numbers`).
  if (!std::isfinite(eta))
    return std::nullopt;
  return eta;
}

} // namespace jobwire
