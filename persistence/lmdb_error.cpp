#include "persistence/lmdb_error.hpp"

#include <cerrno>

#include <lmdb.h>

namespace jobwire {

lmdb_error::lmdb_error(int rc, const std::string& what)
  : std::runtime_error(what + ": " + mdb_strerror(rc)), rc_(rc) {
  // nop
}

bool lmdb_error::map_full() const noexcept {
  return rc_ == MDB_MAP_FULL;
}

bool lmdb_error::disk_refused() const noexcept {
  return rc_ == ENOSPC || rc_ == EDQUOT || rc_ == EFBIG || rc_ == EIO;
}

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS)
    throw lmdb_error(rc, what);
}

} // namespace jobwire
