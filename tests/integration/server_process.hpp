#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>

namespace jobwire::test {

/// How a child process ended.
struct exit_status {
  /// The process ended by `exit` (`code` is valid).
  bool exited = false;
  int code = -1;
  /// The signal that ended it, or 0.
  int signal = 0;
  /// The process did not end in time and was killed.
  bool timed_out = false;
  /// When it did not end in time: where each of its threads waited (name,
  /// kernel wait channel, system call), to tell a hang from a slow exit.
  std::string threads_at_timeout;

  std::string to_string() const;
};

/// What a process that runs to completion printed and how it ended.
struct run_result {
  exit_status status;
  std::string out;
  std::string err;
};

/// The path of the jobwire binary from the environment variable JOBWIRE_BIN;
/// throws when unset.
std::string jobwire_binary();

/// Runs `binary args...` without a temp dir and collects its output.
run_result run_to_completion(const std::string& binary,
                             const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout);

/// A jobwire server in a child process with a fresh temp dir. The server gets
/// `--bind=127.0.0.1 --port=0 --caf-port=0 --data-dir=<tmp>/data` before the
/// given arguments and writes stderr to `<tmp>/stderr.log`.
class server_process {
public:
  // -- constructors, destructors ----------------------------------------------

  /// Starts the server and waits for its listening line; throws on failure
  /// (the message includes what the server wrote to stderr). A
  /// `descriptor_limit` other than 0 is the server's RLIMIT_NOFILE, soft
  /// and hard.
  explicit server_process(std::vector<std::string> args = {},
                          std::chrono::milliseconds timeout
                          = std::chrono::seconds{15},
                          rlim_t descriptor_limit = 0);

  /// Kills the server if it still runs and removes the temp dir (unless
  /// `keep_temp_dir()` was called or JOBWIRE_KEEP_TMP is set).
  ~server_process();

  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  // -- properties -------------------------------------------------------------

  uint16_t port() const {
    return port_;
  }

  pid_t pid() const {
    return pid_;
  }

  const std::vector<std::string>& args() const {
    return args_;
  }

  const std::string& temp_dir() const {
    return temp_dir_;
  }

  std::string data_dir() const {
    return temp_dir_ + "/data";
  }

  std::string stderr_path() const {
    return temp_dir_ + "/stderr.log";
  }

  /// Everything the server wrote to stderr so far.
  std::string stderr_text() const;

  /// The last `n` lines of stderr.
  std::string stderr_tail(size_t n = 50) const;

  /// Everything the server wrote to stdout so far, the listening line
  /// included.
  std::string stdout_text() const;

  /// Whether the process still runs (reaps it when it has ended).
  bool running();

  /// How the process ended; valid once `running()` is false.
  const exit_status& status() const {
    return status_;
  }

  // -- control ----------------------------------------------------------------

  /// Sends `sig` and waits up to `timeout` for the exit; kills the process
  /// when it does not end in time.
  exit_status stop(int sig, std::chrono::milliseconds timeout
                            = std::chrono::seconds{10});

  /// `stop(SIGTERM)`.
  exit_status stop();

  /// Leaves the temp dir in place for a post-mortem.
  void keep_temp_dir() {
    keep_temp_dir_ = true;
  }

private:
  bool reap(int options);
  void drain_stdout();

  std::vector<std::string> args_;
  std::string temp_dir_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  exit_status status_;
  uint16_t port_ = 0;
  int stdout_fd_ = -1;
  mutable std::mutex stdout_mtx_;
  std::string stdout_;
  std::thread stdout_reader_;
  bool keep_temp_dir_ = false;
};

} // namespace jobwire::test
