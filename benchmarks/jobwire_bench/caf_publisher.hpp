#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "jobwire_bench/caf_link.hpp"
#include "jobwire_bench/publisher.hpp"

namespace jobwire::bench {

/// Publishes events as a pipeline process does: CAF requests to jobwire's
/// ingest actor over the run's `caf_link`, up to `window` in flight. The
/// answers come back through an eventfd in the worker's epoll set.
class caf_publisher final : public publisher {
public:
  caf_publisher(worker& w, size_t index, std::vector<job_slot*> jobs,
                caf_link& link);
  ~caf_publisher() override;

  void connect() override;

  void on_io(uint32_t events) override;

  void close_now() override;

private:
  bool ready(bool& soon) override;
  size_t in_flight() const override {
    return in_flight_;
  }
  void start(size_t job, uint64_t now) override;

  std::shared_ptr<answer_box> box_;
  std::unique_ptr<caf_link::relay> relay_;
  size_t in_flight_ = 0;
  bool watching_ = false;
};

} // namespace jobwire::bench
