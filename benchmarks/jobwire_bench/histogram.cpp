#include "jobwire_bench/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace jobwire::bench {

namespace {

constexpr unsigned sub_bits = 6;
constexpr uint64_t sub_count = uint64_t{1} << sub_bits; // 64
constexpr size_t linear = 2 * sub_count;                // 0..127 exact
constexpr size_t bucket_count = linear + (64 - sub_bits - 1) * sub_count;

} // namespace

histogram::histogram() : buckets_(bucket_count, 0) {
  // nop
}

size_t histogram::index_of(uint64_t ns) {
  if (ns < linear)
    return static_cast<size_t>(ns);
  auto msb = 63u - static_cast<unsigned>(std::countl_zero(ns));
  auto shift = msb - sub_bits;
  auto top = ns >> shift; // in [64, 128)
  return linear + (shift - 1) * sub_count + (top - sub_count);
}

uint64_t histogram::value_at(size_t index) {
  if (index < linear)
    return index;
  auto shift = (index - linear) / sub_count + 1;
  auto top = (index - linear) % sub_count + sub_count;
  // The middle of the bucket.
  return (top << shift) + (uint64_t{1} << (shift - 1));
}

void histogram::record(uint64_t ns) {
  ++buckets_[index_of(ns)];
  ++count_;
  sum_ += ns;
  max_ = std::max(max_, ns);
}

void histogram::merge(const histogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t histogram::percentile(double p) const {
  if (count_ == 0)
    return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * count_));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank)
      return std::min(value_at(i), max_);
  }
  return max_;
}

} // namespace jobwire::bench
