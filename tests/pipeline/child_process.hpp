#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "server_process.hpp"

namespace jobwire::test {

/// The path in environment variable `name`; throws when unset or not
/// executable.
std::string binary_from_env(const char* name);

/// Any program (here: jobwire-pipeline) in a child process whose stdout and
/// stderr are collected while it runs, so a test can read its output line by
/// line and kill it at any point. Dies with the test process.
class child_process {
public:
  using duration = std::chrono::milliseconds;

  // -- constructors, destructors ---------------------------------------------

  /// Starts `binary args...`; throws on failure.
  child_process(const std::string& binary,
                const std::vector<std::string>& args);

  /// Kills the process if it still runs.
  ~child_process();

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // -- output -------------------------------------------------------------------

  /// The next line on stdout (without the newline), or nothing when none
  /// came within `timeout` or stdout closed.
  std::optional<std::string> read_line(duration timeout);

  /// Everything written to stdout so far.
  std::string stdout_text() const;

  /// Everything written to stderr so far.
  std::string stderr_text() const;

  // -- control ---------------------------------------------------------------------

  pid_t pid() const {
    return pid_;
  }

  /// Sends `sig`.
  void signal(int sig);

  /// Whether the process still runs (reaps it when it has ended).
  bool running();

  /// Waits up to `timeout` for the exit; kills the process (and sets
  /// `timed_out`) when it does not end in time. Also waits for the output
  /// to be read to its end.
  exit_status wait(duration timeout);

  /// The command line, for messages.
  const std::string& command() const {
    return command_;
  }

private:
  bool reap(int options);
  void read_loop();

  std::string command_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  exit_status status_;
  int out_fd_ = -1;
  int err_fd_ = -1;
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  size_t out_pos_ = 0; // how much of out_ read_line has consumed
  bool out_closed_ = false;
  bool err_closed_ = false;
  std::thread reader_;
};

} // namespace jobwire::test
