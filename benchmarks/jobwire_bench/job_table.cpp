#include "jobwire_bench/job_table.hpp"

#include <bit>

namespace jobwire::bench {

job_table::job_table(size_t count, const std::string& prefix,
                     const std::string& host_header,
                     const std::string& auth_header, size_t max_lag,
                     const std::string& path_before,
                     const std::string& path_after)
  : max_lag_(max_lag) {
  jobs_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto job = std::make_unique<job_slot>();
    job->id = prefix + std::to_string(i);
    job->request_head = "POST " + path_before + job->id + path_after
                        + " HTTP/1.1\r\nHost: " + host_header + "\r\n"
                        + auth_header + "Content-Type: application/json\r\n"
                          "Content-Length: ";
    if (max_lag > 0) {
      // Seqs in flight span at most max_lag: twice that never wraps onto a
      // slot still counting.
      auto size = std::bit_ceil(2 * max_lag + 64);
      job->ring = std::make_unique<std::atomic<uint32_t>[]>(size);
      for (size_t s = 0; s < size; ++s)
        job->ring[s].store(0, std::memory_order_relaxed);
      job->ring_mask = size - 1;
    }
    jobs_.push_back(std::move(job));
  }
}

void job_table::advance(job_slot& job) {
  if (job.advancing.test_and_set(std::memory_order_acquire))
    return; // another thread is at it
  auto f = job.floor.load(std::memory_order_relaxed);
  for (;;) {
    auto& next = job.ring[(f + 1) & job.ring_mask];
    if (next.load(std::memory_order_acquire) < job.readers)
      break;
    next.store(0, std::memory_order_relaxed);
    ++f;
  }
  job.floor.store(f, std::memory_order_release);
  job.advancing.clear(std::memory_order_release);
}

bool job_table::try_reserve(job_slot& job) {
  auto r = job.reserved.load(std::memory_order_relaxed);
  for (;;) {
    if (job.quota != 0 && r >= job.quota)
      return false;
    if (max_lag_ != 0 && job.readers != 0) {
      if (r - job.floor.load(std::memory_order_acquire) >= max_lag_) {
        advance(job);
        if (r - job.floor.load(std::memory_order_acquire) >= max_lag_)
          return false;
      }
    }
    if (job.reserved.compare_exchange_weak(r, r + 1,
                                           std::memory_order_relaxed))
      return true;
  }
}

void job_table::acked(job_slot& job, uint64_t seq) {
  job.acked.fetch_add(1, std::memory_order_relaxed);
  job.acked_sum.fetch_add(seq, std::memory_order_relaxed);
  auto m = job.acked_max.load(std::memory_order_relaxed);
  while (m < seq
         && !job.acked_max.compare_exchange_weak(m, seq,
                                                 std::memory_order_relaxed)) {
    // retry
  }
}

uint64_t job_table::total_acked() const {
  uint64_t n = 0;
  for (auto& j : jobs_)
    n += j->acked.load(std::memory_order_relaxed);
  return n;
}

uint64_t job_table::expected_deliveries() const {
  uint64_t n = 0;
  for (auto& j : jobs_)
    n += j->acked.load(std::memory_order_relaxed) * j->readers;
  return n;
}

} // namespace jobwire::bench
