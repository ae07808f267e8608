#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace jobwire::bench {

/// The server's answer to one publish over CAF.
struct caf_answer {
  /// The publisher's job index and send time, as given to `publish`.
  size_t job = 0;
  uint64_t sent_ns = 0;
  /// 0 when refused; then `error` says why.
  uint64_t seq = 0;
  std::string error;
};

/// Answers handed from CAF's threads to one publisher's worker thread,
/// which an eventfd wakes.
class answer_box {
public:
  answer_box();
  ~answer_box();

  answer_box(const answer_box&) = delete;
  answer_box& operator=(const answer_box&) = delete;

  /// Readable (EPOLLIN) while answers wait.
  int fd() const {
    return fd_;
  }

  /// Any thread.
  void put(caf_answer a);

  /// The waiting answers, in arrival order; the worker thread only.
  std::vector<caf_answer> take();

private:
  int fd_ = -1;
  std::mutex mtx_;
  std::vector<caf_answer> answers_;
};

/// The benchmark's link to jobwire's ingest actor (`--publish-via=caf`): an
/// actor system of its own and one CAF connection to `--caf-port`, shared
/// by every CAF publisher, as a pipeline process has. CAF stays inside
/// caf_link.cpp.
class caf_link {
public:
  /// Connects; on failure nullptr and `error` says why.
  static std::unique_ptr<caf_link> open(const std::string& host,
                                        uint16_t port, std::string& error);

  ~caf_link();

  /// Sends one publisher's events to the ingest actor and puts the
  /// answers into its box. Destroying it stops its actor.
  class relay {
  public:
    virtual ~relay() = default;

    /// A progress_update of `job_id`; `job` and `sent_ns` come back with
    /// the answer. Any thread.
    virtual void publish(const std::string& job_id, double progress,
                         std::string message, size_t job, uint64_t sent_ns)
      = 0;
  };

  std::unique_ptr<relay> make_relay(std::shared_ptr<answer_box> box);

private:
  struct impl;

  explicit caf_link(std::unique_ptr<impl> x);

  std::unique_ptr<impl> impl_;
};

} // namespace jobwire::bench
