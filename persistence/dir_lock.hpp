#pragma once

#include <string>

namespace jobwire {

/// Holds `<dir>/jobwire.lock` locked (flock, exclusive) for its lifetime,
/// so that a second server on the same data directory refuses to start:
/// LMDB would let both in, and each would then act on records the other
/// changed under it. The kernel drops the lock when the process dies, so a
/// crash leaves nothing to clean up.
class dir_lock {
public:
  /// Takes the lock. Throws std::runtime_error naming the holder's pid when
  /// another process has it.
  explicit dir_lock(const std::string& dir);
  ~dir_lock();

  dir_lock(const dir_lock&) = delete;
  dir_lock& operator=(const dir_lock&) = delete;

private:
  /// The pid the holder wrote, once it names a live process; "" if none
  /// does within half a second.
  std::string holder_pid() const;

  int fd_ = -1;
};

} // namespace jobwire
