#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "jobwire_bench/worker.hpp"

namespace jobwire::bench {

/// Publishes events to its jobs, round robin, skipping those `max_lag`
/// ahead of their readers, at the run's rate or as fast as `window`
/// requests in flight allow. Subclasses carry the events: over HTTP
/// (`http_publisher`) or as CAF messages to the ingest actor
/// (`caf_publisher`). Lives on its worker's thread.
class publisher : public io_handler {
public:
  publisher(worker& w, size_t index, std::vector<job_slot*> jobs);

  virtual void connect() = 0;

  virtual void close_now() = 0;

  /// Sends what is due; true when it should be called again soon (held
  /// back by the rate or by the readers, not by its window).
  bool pump(uint64_t now);

  // -- what happened ------------------------------------------------------------

  bool connected = false;
  std::string failure;
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t refused = 0;
  std::string first_refusal;
  /// Acks of one job that did not follow the previous one by one (only
  /// checked when the publisher is the job's only one).
  uint64_t non_consecutive = 0;
  /// Idle keep-alive connections the server closed (and we reopened).
  uint64_t reconnects = 0;

protected:
  /// Whether events can be sent now; else `soon` says whether to look
  /// again shortly.
  virtual bool ready(bool& soon) = 0;

  virtual size_t in_flight() const = 0;

  /// Starts a publish of `jobs_[job]` stamped `now` (counted by the caller).
  virtual void start(size_t job, uint64_t now) = 0;

  /// The publishes of one `pump` have all been started.
  virtual void started() {
  }

  /// A publish of `jobs_[job]` sent at `sent_ns` was stored as `seq`.
  void answered(size_t job, uint64_t sent_ns, uint64_t seq);

  /// A publish of `jobs_[job]` was refused; `why` says how.
  void refused_with(size_t job, std::string why);

  /// Publishes in flight that will never be answered.
  void abandoned(size_t job);

  /// The event's message: the publish time (for the end-to-end latency)
  /// and padding, so that the event's JSON has about `payload` bytes when
  /// the rest of it takes `fixed`.
  std::string stamped_message(uint64_t now, size_t fixed) const;

  /// Progress of the next event (0..99).
  unsigned next_progress() const {
    return static_cast<unsigned>(sent % 100);
  }

  /// Records the first failure (the subclass closes what it must).
  void note_failure(std::string why);

  worker& w_;
  size_t index_;
  std::vector<job_slot*> jobs_;

private:
  std::vector<uint64_t> last_ack_;
  size_t next_job_ = 0;
};

} // namespace jobwire::bench
