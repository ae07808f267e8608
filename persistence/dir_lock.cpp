#include "persistence/dir_lock.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace jobwire {

dir_lock::dir_lock(const std::string& dir) {
  auto path = dir + "/jobwire.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0)
    throw std::runtime_error("cannot open " + path + ": "
                             + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    auto err = errno;
    if (err != EWOULDBLOCK) {
      ::close(fd_);
      throw std::runtime_error("cannot lock " + path + ": "
                               + std::strerror(err));
    }
    auto holder = holder_pid();
    ::close(fd_);
    throw std::runtime_error(
      "another jobwire server" + (holder.empty() ? "" : " (pid " + holder + ")")
      + " is using this data directory; two would overwrite each other's "
        "records");
  }
  // The holder's pid, for that message; if it cannot be written, only the
  // message is poorer.
  auto pid = std::to_string(::getpid());
  [[maybe_unused]] bool written
    = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) >= 0;
}

std::string dir_lock::holder_pid() const {
  // A holder that has only just taken the lock has not yet written its
  // pid (the file is empty or names the previous holder): give it a moment.
  for (int attempt = 0; attempt < 50; ++attempt) {
    char buf[32] = {};
    auto n = ::pread(fd_, buf, sizeof(buf) - 1, 0);
    std::string pid{buf, static_cast<size_t>(n > 0 ? n : 0)};
    char* end = nullptr;
    auto value = std::strtol(pid.c_str(), &end, 10);
    if (!pid.empty() && *end == '\0' && value > 0
        && (::kill(static_cast<pid_t>(value), 0) == 0 || errno == EPERM))
      return pid;
    ::usleep(10'000);
  }
  return "";
}

dir_lock::~dir_lock() {
  if (fd_ >= 0)
    ::close(fd_);
}

} // namespace jobwire
