#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace jobwire::bench {

/// A log-linear histogram of nanosecond values: 64 buckets per power of
/// two, so a percentile is within 1.6% of the true value.
class histogram {
public:
  histogram();

  void record(uint64_t ns);

  void merge(const histogram& other);

  uint64_t count() const {
    return count_;
  }

  /// The value below which `p` (0 to 100) percent of the values lie.
  uint64_t percentile(double p) const;

  uint64_t max() const {
    return max_;
  }

  double mean() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_;
  }

private:
  static size_t index_of(uint64_t ns);
  static uint64_t value_at(size_t index);

  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

} // namespace jobwire::bench
