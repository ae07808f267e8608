#pragma once

#include <stdexcept>
#include <string>

namespace jobwire {

/// A failed LMDB call: its return code and what was being done. Thrown
/// inside persistence/ only; the registry actor maps it to an error_code.
class lmdb_error : public std::runtime_error {
public:
  lmdb_error(int rc, const std::string& what);

  int rc() const noexcept {
    return rc_;
  }

  /// Whether the map is full (MDB_MAP_FULL): growing it may help.
  bool map_full() const noexcept;

  /// Whether the disk refused the write: no space (ENOSPC, EDQUOT), a file
  /// size limit (EFBIG), or EIO, which LMDB also returns for a short write
  /// on a full disk.
  bool disk_refused() const noexcept;

private:
  int rc_;
};

/// Throws lmdb_error unless `rc` is MDB_SUCCESS.
void check(int rc, const char* what);

} // namespace jobwire
