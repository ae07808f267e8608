#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace jobwire::test {

namespace {

using clock_type = std::chrono::steady_clock;

std::string errno_text(const char* what) {
  return std::string{what} + ": " + std::strerror(errno);
}

exit_status decode(int wstatus) {
  exit_status result;
  if (WIFEXITED(wstatus)) {
    result.exited = true;
    result.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.signal = WTERMSIG(wstatus);
  }
  return result;
}

/// Each thread of `pid`: its name, kernel wait channel and system call
/// (from /proc), one per line.
std::string thread_states(pid_t pid) {
  namespace fs = std::filesystem;
  auto first_line = [](const fs::path& p) {
    std::ifstream in{p};
    std::string line;
    std::getline(in, line);
    return line;
  };
  std::string out;
  std::error_code ec;
  for (auto& t : fs::directory_iterator{
         fs::path{"/proc"} / std::to_string(pid) / "task", ec}) {
    auto syscall = first_line(t.path() / "syscall");
    out += "\n  " + t.path().filename().string() + " "
           + first_line(t.path() / "comm") + ": wchan "
           + first_line(t.path() / "wchan") + ", syscall "
           + syscall.substr(0, syscall.find(' '));
  }
  return out;
}

} // namespace

std::string binary_from_env(const char* name) {
  auto path = std::getenv(name);
  if (path == nullptr || *path == '\0')
    throw std::runtime_error(std::string{name}
                             + " is not set: run the tests through ctest");
  if (access(path, X_OK) != 0)
    throw std::runtime_error(std::string{name} + "=" + path
                             + " is not executable");
  return path;
}

child_process::child_process(const std::string& binary,
                             const std::vector<std::string>& args) {
  std::vector<std::string> argv_strings{binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  for (auto& x : argv_strings)
    command_ += (command_.empty() ? "" : " ") + x;
  std::vector<char*> argv;
  for (auto& x : argv_strings)
    argv.push_back(const_cast<char*>(x.c_str()));
  argv.push_back(nullptr);
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("pipe2"));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error(errno_text("pipe2"));
  }
  auto parent = getpid();
  pid_ = fork();
  if (pid_ < 0)
    throw std::runtime_error(errno_text("fork"));
  if (pid_ == 0) {
    // Die with the test process, even when it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(126);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
      dup2(null_fd, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    long max_fd = sysconf(_SC_OPEN_MAX);
    if (max_fd < 0 || max_fd > 65536)
      max_fd = 65536;
    for (int fd = 3; fd < max_fd; ++fd)
      close(fd);
    ::signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  out_fd_ = out_pipe[0];
  err_fd_ = err_pipe[0];
  reader_ = std::thread{[this] { read_loop(); }};
}

child_process::~child_process() {
  if (!reap(WNOHANG)) {
    kill(pid_, SIGKILL);
    reap(0);
  }
  if (reader_.joinable())
    reader_.join();
}

void child_process::read_loop() {
  // Reads both pipes until both close (the process and its children ended).
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    if (poll(fds, 2, 100) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = read(fds[i].fd, buf, sizeof(buf));
      std::lock_guard guard{mtx_};
      if (n > 0) {
        (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        (i == 0 ? out_closed_ : err_closed_) = true;
      }
      cv_.notify_all();
    }
  }
  std::lock_guard guard{mtx_};
  for (auto& x : fds)
    if (x.fd >= 0)
      close(x.fd);
  out_closed_ = err_closed_ = true;
  cv_.notify_all();
}

std::optional<std::string> child_process::read_line(duration timeout) {
  std::unique_lock guard{mtx_};
  auto has_line = [this] {
    return out_.find('\n', out_pos_) != std::string::npos || out_closed_;
  };
  if (!cv_.wait_for(guard, timeout, has_line))
    return std::nullopt;
  auto nl = out_.find('\n', out_pos_);
  if (nl == std::string::npos)
    return std::nullopt;
  auto line = out_.substr(out_pos_, nl - out_pos_);
  out_pos_ = nl + 1;
  return line;
}

std::string child_process::stdout_text() const {
  std::lock_guard guard{mtx_};
  return out_;
}

std::string child_process::stderr_text() const {
  std::lock_guard guard{mtx_};
  return err_;
}

void child_process::signal(int sig) {
  if (!reaped_)
    kill(pid_, sig);
}

bool child_process::reap(int options) {
  if (reaped_)
    return true;
  int wstatus = 0;
  if (waitpid(pid_, &wstatus, options) == pid_) {
    status_ = decode(wstatus);
    reaped_ = true;
  }
  return reaped_;
}

bool child_process::running() {
  return !reap(WNOHANG);
}

exit_status child_process::wait(duration timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!reap(WNOHANG)) {
    if (clock_type::now() >= deadline) {
      auto threads = thread_states(pid_);
      kill(pid_, SIGKILL);
      reap(0);
      status_.timed_out = true;
      status_.threads_at_timeout = std::move(threads);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  // Let the reader catch the last output.
  std::unique_lock guard{mtx_};
  cv_.wait_for(guard, std::chrono::seconds{2},
               [this] { return out_closed_ && err_closed_; });
  return status_;
}

} // namespace jobwire::test
