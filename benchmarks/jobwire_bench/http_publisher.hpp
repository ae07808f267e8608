#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "jobwire_bench/worker.hpp"

namespace jobwire::bench {

/// One keep-alive HTTP connection publishing events, with up to `window`
/// requests pipelined; picks its jobs round robin, skipping those that are
/// `max_lag` ahead of their readers.
class http_publisher final : public io_handler {
public:
  http_publisher(worker& w, size_t index, std::vector<job_slot*> jobs);
  ~http_publisher() override;

  void connect();

  /// Sends what is due; true when it should be called again soon (held
  /// back by the rate or by the readers, not by its window).
  bool pump(uint64_t now);

  void on_io(uint32_t events) override;

  void close_now();

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

private:
  struct pending {
    size_t job; // index into jobs_
    uint64_t sent_ns;
    /// nchan: the seq put into the body (jobwire gives it in the reply).
    uint64_t seq;
  };

  void build_request(size_t job, uint64_t now);
  void on_response(int status, std::string_view body);
  void read_some();
  void flush();
  void fail(std::string why);

  worker& w_;
  size_t index_;
  std::vector<job_slot*> jobs_;
  std::vector<uint64_t> last_ack_;
  /// nchan: the last seq put into a body, per job.
  std::vector<uint64_t> last_seq_;
  size_t next_job_ = 0;
  bool idle_closed_ = false;
  int fd_ = -1;
  uint32_t interest_ = 0;
  std::deque<pending> in_flight_;
  std::string out_;
  std::string in_;
  std::string body_;
};

} // namespace jobwire::bench
