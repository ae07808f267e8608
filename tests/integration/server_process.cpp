#include "server_process.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

namespace jobwire::test {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::string_view listening_prefix
  = "jobwire listening on http://127.0.0.1:";

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

// Closes every descriptor above stderr; runs in the child between fork and
// exec, so only async-signal-safe calls.
void close_other_fds() {
  if (close_range(3, ~0U, 0) == 0)
    return;
  long max_fd = sysconf(_SC_OPEN_MAX);
  if (max_fd < 0 || max_fd > 65536)
    max_fd = 65536;
  for (int fd = 3; fd < max_fd; ++fd)
    close(fd);
}

// Forks and execs `argv` with the given stdout and stderr, and with
// `descriptor_limit` as its soft and hard RLIMIT_NOFILE unless 0; returns the
// pid.
pid_t spawn(const std::vector<std::string>& args, int out_fd, int err_fd,
            rlim_t descriptor_limit = 0) {
  std::vector<char*> argv;
  for (auto& x : args)
    argv.push_back(const_cast<char*>(x.c_str()));
  argv.push_back(nullptr);
  auto parent = getpid();
  auto pid = fork();
  if (pid < 0)
    throw std::runtime_error(errno_text("fork"));
  if (pid == 0) {
    // Die with the test process, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(126);
    int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0)
      dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    close_other_fds();
    if (descriptor_limit != 0) {
      rlimit lim{descriptor_limit, descriptor_limit};
      if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        _exit(125);
    }
    // The test process ignores SIGPIPE; the server gets the default.
    signal(SIGPIPE, SIG_DFL);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

bool has_option(const std::vector<std::string>& args, std::string_view name) {
  for (auto& x : args)
    if (x.starts_with(name)
        && (x.size() == name.size() || x[name.size()] == '='))
      return true;
  return false;
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tail_lines(const std::string& text, size_t n) {
  size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n')
    --pos;
  while (pos > 0 && n > 0) {
    auto nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) {
      pos = 0;
      break;
    }
    pos = nl;
    --n;
  }
  return pos == 0 ? text : text.substr(pos + 1);
}

} // namespace

std::string exit_status::to_string() const {
  std::string result;
  if (exited)
    result = "exited with status " + std::to_string(code);
  else if (signal != 0)
    result = "killed by signal " + std::to_string(signal) + " ("
             + strsignal(signal) + ")";
  else
    result = "still running";
  if (timed_out)
    result += " (did not stop in time; killed)";
  if (!threads_at_timeout.empty())
    result += "; its threads then:" + threads_at_timeout;
  return result;
}

std::string jobwire_binary() {
  auto path = std::getenv("JOBWIRE_BIN");
  if (path == nullptr || *path == '\0')
    throw std::runtime_error(
      "JOBWIRE_BIN is not set: run the integration tests "
      "through ctest or set it to the jobwire binary");
  if (access(path, X_OK) != 0)
    throw std::runtime_error("JOBWIRE_BIN=" + std::string{path}
                             + " is not executable");
  return path;
}

run_result run_to_completion(const std::string& binary,
                             const std::vector<std::string>& args,
                             std::chrono::milliseconds timeout) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error(errno_text("pipe2"));
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error(errno_text("pipe2"));
  }
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  auto pid = spawn(argv, out_pipe[1], err_pipe[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  run_result result;
  auto deadline = clock_type::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    if (left.count() <= 0)
      break;
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR)
      break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0)
        continue;
      char buf[4096];
      auto n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& x : fds)
    if (x.fd >= 0)
      close(x.fd);
  // Wait for the exit in the time left.
  int wstatus = 0;
  for (;;) {
    auto rc = waitpid(pid, &wstatus, WNOHANG);
    if (rc == pid) {
      result.status = decode(wstatus);
      return result;
    }
    if (clock_type::now() >= deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  kill(pid, SIGKILL);
  waitpid(pid, &wstatus, 0);
  result.status = decode(wstatus);
  result.status.timed_out = true;
  return result;
}

server_process::server_process(std::vector<std::string> args,
                               std::chrono::milliseconds timeout,
                               rlim_t descriptor_limit)
  : args_(std::move(args)) {
  auto binary = jobwire_binary();
  // Make a fresh temp dir with a data dir inside.
  std::string base = "/tmp";
  if (auto tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0')
    base = tmp;
  std::string templ = base + "/jobwire-it-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr)
    throw std::runtime_error(errno_text("mkdtemp"));
  temp_dir_ = templ;
  if (mkdir(data_dir().c_str(), 0700) != 0)
    throw std::runtime_error(errno_text("mkdir"));
  // Build the command line; the caller's options win over our defaults.
  std::vector<std::string> argv{binary};
  auto add_default = [&](std::string_view name, std::string value) {
    if (!has_option(args_, name))
      argv.push_back(std::string{name} + "=" + value);
  };
  add_default("--bind", "127.0.0.1");
  add_default("--port", "0");
  add_default("--caf-port", "0");
  add_default("--data-dir", data_dir());
  auto level = std::getenv("JOBWIRE_LOG_LEVEL");
  add_default("--log-level",
              level != nullptr && *level != '\0' ? level : "info");
  argv.insert(argv.end(), args_.begin(), args_.end());
  // Start the child with stdout on a pipe and stderr in a file.
  int err_fd = open(stderr_path().c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (err_fd < 0)
    throw std::runtime_error(errno_text("open stderr.log"));
  int out_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    close(err_fd);
    throw std::runtime_error(errno_text("pipe2"));
  }
  try {
    pid_ = spawn(argv, out_pipe[1], err_fd, descriptor_limit);
  } catch (...) {
    close(err_fd);
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw;
  }
  close(err_fd);
  close(out_pipe[1]);
  stdout_fd_ = out_pipe[0];
  // Read stdout until the listening line.
  auto deadline = clock_type::now() + timeout;
  std::string failure;
  for (;;) {
    auto nl = stdout_.find('\n');
    if (nl != std::string::npos) {
      auto line = stdout_.substr(0, nl);
      if (!line.starts_with(listening_prefix)) {
        failure = "the first line on stdout is not the listening line: " + line;
        break;
      }
      auto digits = line.substr(listening_prefix.size());
      char* end = nullptr;
      auto value = std::strtoul(digits.c_str(), &end, 10);
      if (digits.empty() || *end != '\0' || value == 0 || value > 65535) {
        failure = "bad port in the listening line: " + line;
        break;
      }
      port_ = static_cast<uint16_t>(value);
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - clock_type::now());
    if (left.count() <= 0) {
      failure
        = "no listening line within " + std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd pfd{stdout_fd_, POLLIN, 0};
    auto rc = poll(&pfd, 1, static_cast<int>(left.count()));
    if (rc < 0 && errno != EINTR) {
      failure = errno_text("poll");
      break;
    }
    if (rc <= 0)
      continue;
    char buf[1024];
    auto n = read(stdout_fd_, buf, sizeof(buf));
    if (n > 0) {
      stdout_.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      failure = "stdout closed before the listening line";
      break;
    } else if (errno != EINTR) {
      failure = errno_text("read stdout");
      break;
    }
  }
  if (!failure.empty()) {
    if (reap(WNOHANG))
      failure += "; the server " + status_.to_string();
    else
      stop(SIGKILL, std::chrono::seconds{5});
    std::string cmd;
    for (auto& x : argv)
      cmd += x + " ";
    auto message = "jobwire did not start (" + failure + ")\ncommand: " + cmd
                   + "\nstdout: " + stdout_ + "\nstderr:\n" + stderr_tail(80);
    close(stdout_fd_);
    stdout_fd_ = -1;
    std::filesystem::remove_all(temp_dir_);
    throw std::runtime_error(message);
  }
  stdout_reader_ = std::thread{[this] { drain_stdout(); }};
}

server_process::~server_process() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    reap(0);
  }
  if (stdout_reader_.joinable())
    stdout_reader_.join();
  if (stdout_fd_ >= 0)
    close(stdout_fd_);
  auto keep = std::getenv("JOBWIRE_KEEP_TMP");
  if (!keep_temp_dir_ && (keep == nullptr || *keep == '\0')) {
    std::error_code ec;
    std::filesystem::remove_all(temp_dir_, ec);
  }
}

void server_process::drain_stdout() {
  // Ends at EOF, i.e. when the server exits; gives up a second after the
  // server was reaped in case a grandchild holds the pipe.
  std::optional<clock_type::time_point> give_up;
  for (;;) {
    pollfd pfd{stdout_fd_, POLLIN, 0};
    auto rc = poll(&pfd, 1, 50);
    if (rc < 0 && errno != EINTR)
      return;
    if (rc > 0) {
      char buf[4096];
      auto n = read(stdout_fd_, buf, sizeof(buf));
      if (n > 0) {
        std::lock_guard guard{stdout_mtx_};
        stdout_.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        return;
      }
    }
    {
      std::lock_guard guard{stdout_mtx_};
      if (reaped_ && !give_up)
        give_up = clock_type::now() + std::chrono::seconds{1};
    }
    if (give_up && clock_type::now() > *give_up)
      return;
  }
}

std::string server_process::stderr_text() const {
  return read_file(stderr_path());
}

std::string server_process::stderr_tail(size_t n) const {
  return tail_lines(stderr_text(), n);
}

std::string server_process::stdout_text() const {
  std::lock_guard guard{stdout_mtx_};
  return stdout_;
}

bool server_process::reap(int options) {
  if (reaped_)
    return true;
  int wstatus = 0;
  auto rc = waitpid(pid_, &wstatus, options);
  if (rc == pid_) {
    std::lock_guard guard{stdout_mtx_};
    status_ = decode(wstatus);
    reaped_ = true;
  }
  return reaped_;
}

bool server_process::running() {
  return !reap(WNOHANG);
}

exit_status server_process::stop(int sig, std::chrono::milliseconds timeout) {
  if (reap(WNOHANG))
    return status_;
  kill(pid_, sig);
  auto deadline = clock_type::now() + timeout;
  while (clock_type::now() < deadline) {
    if (reap(WNOHANG))
      return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  }
  kill(pid_, SIGKILL);
  reap(0);
  status_.timed_out = true;
  return status_;
}

exit_status server_process::stop() {
  return stop(SIGTERM);
}

} // namespace jobwire::test
