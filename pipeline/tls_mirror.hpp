#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace jobwire::pipeline {

/// What CAF's OpenSSL module reads for each connection in place of the
/// `--caf-tls-*` files: in-memory copies (paths under /proc/self/fd) that
/// change only to files that load together. CAF aborts the process on files
/// that do not load, so pointing it at the originals made a bad replacement,
/// or a certificate replaced before its key, fatal at the next connection.
class tls_mirror {
public:
  /// What `refresh` did.
  struct outcome {
    enum kind { unchanged, taken, refused } what = unchanged;
    /// Why the new files were not taken (for `refused`).
    std::string reason;
  };

  /// Copies the files; nullptr with `error` (naming the option and file at
  /// fault) when they do not load together.
  static std::unique_ptr<tls_mirror> open(const std::string& certificate,
                                          const std::string& key,
                                          const std::string& ca_file,
                                          std::string& error);

  ~tls_mirror();

  tls_mirror(const tls_mirror&) = delete;
  tls_mirror& operator=(const tls_mirror&) = delete;

  /// For CAF's certificate and key alike: the key and the certificate chain
  /// are one file, so that a connection never sees one without the other.
  std::string identity_path() const;

  std::string ca_path() const;

  /// Reads the originals again. Files that changed and load together are
  /// what the next connection gets; files that do not leave the copies as
  /// they are, and are reported once until they change again.
  outcome refresh();

  /// Calls `refresh` every `period` on a thread of its own until destroyed,
  /// telling `report` what changed.
  void watch(std::chrono::milliseconds period,
             std::function<void(const outcome&)> report);

private:
  tls_mirror(std::string certificate, std::string key, std::string ca_file);

  std::string certificate_;
  std::string key_;
  std::string ca_file_;
  /// The descriptors CAF's paths name; a refresh puts new copies under the
  /// same numbers (dup2), which is atomic for every later open.
  int identity_fd_ = -1;
  int ca_fd_ = -1;
  /// The originals as last read, taken or not.
  std::string seen_;
  std::mutex stop_mtx_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread watcher_;
};

} // namespace jobwire::pipeline
