#include "pipeline/tls_mirror.hpp"

#include <cerrno>
#include <cstring>
#include <optional>

#include <sys/mman.h>
#include <unistd.h>

#include "messages/small_file.hpp"
#include "pipeline/tls_files.hpp"

namespace jobwire::pipeline {

namespace {

/// PEM files this large are not certificates; a bound on what is read.
constexpr size_t max_file_bytes = 1 << 20;

std::optional<std::string> read_file(const std::string& path) {
  std::string text;
  if (read_small_file(path, max_file_bytes, text) != small_file_read::ok)
    return std::nullopt;
  return text;
}

/// An anonymous in-memory file holding `text`; -1 on failure.
int memory_file(const char* name, const std::string& text) {
  int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t done = 0;
  while (done < text.size()) {
    auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ::close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  return fd;
}

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

} // namespace

tls_mirror::tls_mirror(std::string certificate, std::string key,
                       std::string ca_file)
  : certificate_(std::move(certificate)),
    key_(std::move(key)),
    ca_file_(std::move(ca_file)) {
  // nop
}

std::unique_ptr<tls_mirror> tls_mirror::open(const std::string& certificate,
                                             const std::string& key,
                                             const std::string& ca_file,
                                             std::string& error) {
  std::unique_ptr<tls_mirror> result{new tls_mirror(certificate, key, ca_file)};
  auto first = result->refresh();
  if (first.what != outcome::taken) {
    error = first.reason.empty() ? "cannot copy the --caf-tls-* files"
                                 : first.reason;
    return nullptr;
  }
  return result;
}

tls_mirror::~tls_mirror() {
  {
    std::lock_guard<std::mutex> guard{stop_mtx_};
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (watcher_.joinable())
    watcher_.join();
  if (identity_fd_ >= 0)
    ::close(identity_fd_);
  if (ca_fd_ >= 0)
    ::close(ca_fd_);
}

std::string tls_mirror::identity_path() const {
  return fd_path(identity_fd_);
}

std::string tls_mirror::ca_path() const {
  return fd_path(ca_fd_);
}

tls_mirror::outcome tls_mirror::refresh() {
  auto cert = read_file(certificate_);
  auto key = read_file(key_);
  auto ca = read_file(ca_file_);
  // An unreadable file counts as one more content, so it too is reported
  // once.
  auto now = cert.value_or("\1") + '\0' + key.value_or("\1") + '\0'
             + ca.value_or("\1");
  if (now == seen_)
    return {};
  seen_ = std::move(now);
  // The originals name the file at fault; the copies are what CAF reads.
  if (auto bad = check_tls_files(certificate_, key_, ca_file_); !bad.empty())
    return {outcome::refused, bad};
  if (!cert || !key || !ca)
    return {outcome::refused, "a --caf-tls-* file cannot be read whole (or "
                              "holds more than 1 MiB)"};
  // The key first: certificate readers skip it, and the chain follows.
  auto identity = *key;
  if (!identity.empty() && identity.back() != '\n')
    identity += '\n';
  identity += *cert;
  int new_identity = memory_file("jobwire-caf-tls-identity", identity);
  int new_ca = memory_file("jobwire-caf-tls-ca", *ca);
  auto drop = [&] {
    if (new_identity >= 0)
      ::close(new_identity);
    if (new_ca >= 0)
      ::close(new_ca);
  };
  if (new_identity < 0 || new_ca < 0) {
    auto why = std::string{"cannot copy the --caf-tls-* files: "}
               + std::strerror(errno);
    drop();
    return {outcome::refused, why};
  }
  // Most likely a file replaced between the check and the read; the next
  // look reads it again, since what it reads then differs from `seen_`.
  if (auto bad = check_tls_files(fd_path(new_identity), fd_path(new_identity),
                                 fd_path(new_ca));
      !bad.empty()) {
    drop();
    return {outcome::refused,
            "the copies of the --caf-tls-* files do not load (were they "
            "replaced while being read?): " + bad};
  }
  if (identity_fd_ < 0) {
    identity_fd_ = new_identity;
    ca_fd_ = new_ca;
    return {outcome::taken, {}};
  }
  ::dup2(new_identity, identity_fd_);
  ::dup2(new_ca, ca_fd_);
  drop();
  return {outcome::taken, {}};
}

void tls_mirror::watch(std::chrono::milliseconds period,
                       std::function<void(const outcome&)> report) {
  watcher_ = std::thread{[this, period, report = std::move(report)] {
    std::unique_lock<std::mutex> guard{stop_mtx_};
    while (!stop_cv_.wait_for(guard, period, [this] { return stopping_; })) {
      guard.unlock();
      auto what = refresh();
      if (what.what != outcome::unchanged)
        report(what);
      guard.lock();
    }
  }};
}

} // namespace jobwire::pipeline
