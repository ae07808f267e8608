#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace jobwire::bench {

/// One job of a run, shared by the threads: what its publishers sent and
/// had acknowledged, and how far its subscribers got (for flow control).
struct job_slot {
  std::string id;
  /// "POST /v1/jobs/<id>/events HTTP/1.1\r\nHost: ...\r\n..." (or nchan's
  /// publish path) up to the Content-Length value.
  std::string request_head;
  /// Subscribers that read (stalled ones are not waited for).
  uint32_t readers = 0;
  /// Publishes started; the next seq the server will give is at most this.
  std::atomic<uint64_t> reserved{0};
  /// 0 = no quota, else publish at most this many events.
  uint64_t quota = 0;
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> acked_max{0};
  std::atomic<uint64_t> acked_sum{0};
  /// A publish answered with anything but 202.
  std::atomic<uint64_t> refused{0};
  /// Every reader has received every seq up to here.
  std::atomic<uint64_t> floor{0};
  /// Readers that have received seq s, at [s & ring_mask].
  std::unique_ptr<std::atomic<uint32_t>[]> ring;
  uint64_t ring_mask = 0;
  std::atomic_flag advancing;
};

/// The jobs of a run, with the flow control that keeps publishers at most
/// `max_lag` events ahead of each job's slowest reader.
class job_table {
public:
  /// Jobs are published to with `POST <path_before><id><path_after>`.
  job_table(size_t count, const std::string& prefix,
            const std::string& host_header,
            const std::string& auth_header, size_t max_lag,
            const std::string& path_before, const std::string& path_after);

  size_t size() const {
    return jobs_.size();
  }

  job_slot& operator[](size_t i) {
    return *jobs_[i];
  }

  size_t max_lag() const {
    return max_lag_;
  }

  /// Claims the right to publish one more event to `job`; false while the
  /// job is `max_lag` ahead of its slowest reader or at its quota.
  bool try_reserve(job_slot& job);

  /// Gives back a reservation that was not used.
  void unreserve(job_slot& job) {
    job.reserved.fetch_sub(1, std::memory_order_relaxed);
  }

  /// A reader of `job` received `seq` (or skipped past it).
  void delivered(job_slot& job, uint64_t seq) {
    if (job.ring && seq > job.floor.load(std::memory_order_relaxed))
      job.ring[seq & job.ring_mask].fetch_add(1, std::memory_order_release);
  }

  /// A publish of `job` was answered 202 with `seq`.
  void acked(job_slot& job, uint64_t seq);

  /// Events acknowledged, over all jobs.
  uint64_t total_acked() const;

  /// Reader deliveries owed: acked events times readers, over all jobs.
  uint64_t expected_deliveries() const;

private:
  void advance(job_slot& job);

  std::vector<std::unique_ptr<job_slot>> jobs_;
  size_t max_lag_;
};

} // namespace jobwire::bench
