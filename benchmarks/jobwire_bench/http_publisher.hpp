#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "jobwire_bench/publisher.hpp"

namespace jobwire::bench {

/// One keep-alive HTTP connection publishing events, with up to `window`
/// requests pipelined.
class http_publisher final : public publisher {
public:
  http_publisher(worker& w, size_t index, std::vector<job_slot*> jobs);
  ~http_publisher() override;

  void connect() override;

  void on_io(uint32_t events) override;

  void close_now() override;

private:
  struct pending {
    size_t job; // index into jobs_
    uint64_t sent_ns;
    /// nchan: the seq put into the body (jobwire gives it in the reply).
    uint64_t seq;
  };

  bool ready(bool& soon) override;
  size_t in_flight() const override {
    return in_flight_.size();
  }
  void start(size_t job, uint64_t now) override;
  void started() override {
    flush();
  }

  void on_response(int status, std::string_view body);
  void read_some();
  void flush();
  void fail(std::string why);

  /// nchan: the last seq put into a body, per job.
  std::vector<uint64_t> last_seq_;
  bool idle_closed_ = false;
  int fd_ = -1;
  uint32_t interest_ = 0;
  std::deque<pending> in_flight_;
  std::string out_;
  std::string in_;
  std::string body_;
};

} // namespace jobwire::bench
