#include "jobwire_bench/publisher.hpp"

#include <limits>

#include "jobwire_bench/clock.hpp"

namespace jobwire::bench {

namespace {

/// The worker's count of requests in flight, one fewer.
void one_less_in_flight(worker_counters& c) {
  auto n = c.in_flight.load(std::memory_order_relaxed);
  c.in_flight.store(n - 1, std::memory_order_release);
}

} // namespace

publisher::publisher(worker& w, size_t index, std::vector<job_slot*> jobs)
  : w_(w), index_(index), jobs_(std::move(jobs)), last_ack_(jobs_.size(), 0) {
  // Start each publisher at another job, so they do not march in step.
  if (!jobs_.empty())
    next_job_ = index % jobs_.size();
}

bool publisher::pump(uint64_t now) {
  bool soon = false;
  if (!ready(soon))
    return soon;
  if (jobs_.empty())
    return false;
  auto window = w_.run.opt->window;
  if (in_flight() >= window)
    return false;
  uint64_t due = std::numeric_limits<uint64_t>::max();
  auto rate = w_.run.rate_per_publisher;
  if (rate > 0) {
    auto start = w_.run.publish_start_ns.load(std::memory_order_relaxed);
    auto should = static_cast<uint64_t>(
                    rate * static_cast<double>(now - start) / 1e9)
                  + 1;
    due = should > sent ? should - sent : 0;
  }
  bool held = false;
  auto before = sent;
  while (in_flight() < window && due > 0) {
    // The next job with room, round robin.
    bool found = false;
    for (size_t tries = 0; tries < jobs_.size(); ++tries) {
      auto j = next_job_;
      next_job_ = (next_job_ + 1) % jobs_.size();
      if (w_.run.jobs->try_reserve(*jobs_[j])) {
        start(j, now);
        ++sent;
        bump(w_.counters.published);
        bump(w_.counters.in_flight);
        found = true;
        break;
      }
    }
    if (!found) {
      held = true;
      break;
    }
    --due;
  }
  if (sent != before)
    started();
  return held || (rate > 0 && in_flight() < window);
}

void publisher::answered(size_t j, uint64_t sent_ns, uint64_t seq) {
  auto& job = *jobs_[j];
  one_less_in_flight(w_.counters);
  w_.run.jobs->acked(job, seq);
  if (w_.run.one_publisher_per_job && last_ack_[j] != 0
      && seq != last_ack_[j] + 1)
    ++non_consecutive;
  last_ack_[j] = seq;
  ++acked;
  bump(w_.counters.acked);
  w_.ack_latency.record(now_ns() - sent_ns);
}

void publisher::refused_with(size_t j, std::string why) {
  auto& job = *jobs_[j];
  one_less_in_flight(w_.counters);
  ++refused;
  job.refused.fetch_add(1, std::memory_order_relaxed);
  w_.run.jobs->unreserve(job);
  bump(w_.counters.refused);
  if (first_refusal.empty())
    first_refusal = std::move(why);
}

void publisher::abandoned(size_t j) {
  one_less_in_flight(w_.counters);
  w_.run.jobs->unreserve(*jobs_[j]);
}

std::string publisher::stamped_message(uint64_t now, size_t fixed) const {
  auto msg = "t=" + std::to_string(now) + ' ';
  auto payload = w_.run.opt->payload_bytes;
  if (fixed + msg.size() < payload)
    msg.append(payload - fixed - msg.size(), 'x');
  return msg;
}

void publisher::note_failure(std::string why) {
  if (failure.empty()) {
    failure = std::move(why);
    bump(w_.counters.publishers_failed);
  }
}

} // namespace jobwire::bench
