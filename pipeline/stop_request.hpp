#pragma once

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <string>

namespace jobwire::pipeline {

/// SIGTERM and SIGINT for a pipeline process, taken by a thread of their
/// own, so that its jobs can end them as failed (the signal said why) rather
/// than leave them to fail with `worker_lost` after the server's grace.
///
/// Until `jobs_started`, a signal ends the process at once (exit status
/// 128 + the signal), as there is nothing to end yet; after it, the first
/// signal is recorded and wakes `wait`, and a second ends the process at
/// once. A signal ignored when the process started (a background job of a
/// shell ignores SIGINT) stays ignored.
class stop_request {
public:
  /// Blocks both signals and starts the thread that waits for them. Call
  /// it before any other thread starts: threads inherit the mask, and a
  /// thread that does not block them would take them instead. The object
  /// must then live until the process ends.
  void watch();

  /// The jobs are under way: a signal asks them to stop from now on.
  void jobs_started();

  /// Makes `wait`ing threads look at their `woken` again (e.g. a cancel
  /// request came).
  void wake();

  /// Waits up to `timeout` for a stop request or for `woken()`.
  template <class Pred>
  void wait(std::chrono::milliseconds timeout, Pred woken) {
    std::unique_lock guard{mtx_};
    cv_.wait_for(guard, timeout, [&] { return signal_ != 0 || woken(); });
  }

  /// The signal that asked to stop; 0 before one came.
  int signal() const;

  /// "SIGTERM" or "SIGINT".
  static std::string name(int sig);

private:
  void on_signal(int sig);

  sigset_t set_;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  int signal_ = 0;
  bool jobs_running_ = false;
};

} // namespace jobwire::pipeline
