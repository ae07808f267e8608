#include "pipeline/stop_request.hpp"

#include <cerrno> // program_invocation_short_name
#include <cstdlib>
#include <iostream>
#include <thread>

#include <pthread.h>

namespace jobwire::pipeline {

void stop_request::watch() {
  sigemptyset(&set_);
  sigaddset(&set_, SIGTERM);
  sigaddset(&set_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  // Detached: it waits as long as the process runs.
  std::thread{[this] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set_, &sig) == 0)
        on_signal(sig);
    }
  }}.detach();
}

void stop_request::jobs_started() {
  std::lock_guard guard{mtx_};
  jobs_running_ = true;
}

void stop_request::wake() {
  std::lock_guard guard{mtx_};
  cv_.notify_all();
}

int stop_request::signal() const {
  std::lock_guard guard{mtx_};
  return signal_;
}

std::string stop_request::name(int sig) {
  return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

void stop_request::on_signal(int sig) {
  std::lock_guard guard{mtx_};
  if (!jobs_running_ || signal_ != 0) {
    std::cerr << program_invocation_short_name << ": " << name(sig)
              << (jobs_running_ ? " again: exiting without ending the jobs"
                                : ": exiting")
              << std::endl;
    std::_Exit(128 + sig);
  }
  signal_ = sig;
  cv_.notify_all();
}

} // namespace jobwire::pipeline
