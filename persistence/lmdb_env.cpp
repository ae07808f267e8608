#include "persistence/lmdb_env.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace jobwire {

namespace {

/// LMDB reports only "Permission denied"; the usual cause is a directory
/// another user (root, an earlier service account) wrote, so name the file.
void check_access(const std::filesystem::path& dir) {
  for (const char* name : {"data.mdb", "lock.mdb"}) {
    auto file = dir / name;
    if (::faccessat(AT_FDCWD, file.c_str(), R_OK | W_OK, AT_EACCESS) == 0
        || errno != EACCES)
      continue;
    struct stat st {};
    std::string owner;
    if (::stat(file.c_str(), &st) == 0) {
      char mode[8];
      std::snprintf(mode, sizeof(mode), "%04o",
                    static_cast<unsigned>(st.st_mode & 07777));
      owner = " (owner uid " + std::to_string(st.st_uid) + ", mode " + mode
              + ")";
    }
    throw std::runtime_error(
      file.string() + owner + ": this process (uid "
      + std::to_string(::geteuid())
      + ") may not read and write it; run jobwire as its owner, or give "
        "this user access");
  }
}

} // namespace

std::optional<durability> parse_durability(std::string_view x) {
  if (x == "sync")
    return durability::sync;
  if (x == "nometasync")
    return durability::nometasync;
  if (x == "nosync")
    return durability::nosync;
  return std::nullopt;
}

lmdb_env::lmdb_env(const env_options& opts)
  : max_map_size_(std::max(opts.max_map_size, opts.map_size)) {
  check(mdb_env_create(&env_), "mdb_env_create");
  try {
    check(mdb_env_set_maxdbs(env_, opts.max_dbs), "mdb_env_set_maxdbs");
    check(mdb_env_set_mapsize(env_, opts.map_size), "mdb_env_set_mapsize");
    // Actors move between threads, so read transactions must not be bound
    // to one (MDB_NOTLS).
    unsigned flags = MDB_NOTLS;
    if (opts.durability == durability::nometasync)
      flags |= MDB_NOMETASYNC;
    else if (opts.durability == durability::nosync)
      flags |= MDB_NOSYNC;
    auto data_file = std::filesystem::path{opts.path} / "data.mdb";
    std::error_code ec;
    // LMDB creates data.mdb with its two meta pages written. Empty, it was
    // cut short, and LMDB would start an empty store over it (seqs
    // reused); shorter than those pages, LMDB only says it is not its file.
    auto meta_bytes = 2 * static_cast<uintmax_t>(::sysconf(_SC_PAGESIZE));
    auto present = std::filesystem::exists(data_file, ec);
    auto found = present ? std::filesystem::file_size(data_file, ec)
                         : uintmax_t{0};
    if (present && !ec && found == 0)
      throw std::runtime_error(
        data_file.string()
        + " is empty: the file was cut short; restore it from a backup, or "
          "remove it to start with an empty store");
    if (present && !ec && found < meta_bytes)
      throw std::runtime_error(
        data_file.string() + " holds " + std::to_string(found)
        + " bytes, less than LMDB's two meta pages (" + std::to_string(meta_bytes)
        + "): the file was cut short; restore it from a backup");
    check_access(opts.path);
    check(mdb_env_open(env_, opts.path.c_str(), flags, 0640),
          "cannot open the LMDB environment");
    // LMDB trusts the file to hold every page its last commit uses; one cut
    // short would fault (SIGBUS) at the first read of a missing page.
    auto needed = used_bytes();
    auto size = std::filesystem::file_size(data_file, ec);
    if (!ec && size < needed)
      throw std::runtime_error(
        data_file.string() + " holds " + std::to_string(size)
        + " bytes, but its last commit uses " + std::to_string(needed)
        + ": the file was cut short; restore it from a backup");
    // Keep a larger map an earlier run grew to.
    MDB_envinfo info;
    mdb_env_info(env_, &info);
    if (info.me_mapsize < opts.map_size)
      check(mdb_env_set_mapsize(env_, opts.map_size), "mdb_env_set_mapsize");
  } catch (...) {
    mdb_env_close(env_);
    throw;
  }
}

lmdb_env::~lmdb_env() {
  // With nosync or nometasync, commits may still be in the page cache: a
  // clean stop puts them on the disk, so a power loss after it loses none.
  mdb_env_sync(env_, 1);
  mdb_env_close(env_);
}

size_t lmdb_env::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

size_t lmdb_env::used_bytes() const {
  MDB_envinfo info;
  MDB_stat stat;
  mdb_env_info(env_, &info);
  mdb_env_stat(env_, &stat);
  return (info.me_last_pgno + 1) * size_t{stat.ms_psize};
}

size_t lmdb_env::free_bytes() const {
  MDB_stat stat;
  mdb_env_stat(env_, &stat);
  lmdb_txn txn{*this, lmdb_txn::read_only};
  MDB_cursor* cursor = nullptr;
  // Database 0 is LMDB's free list: each value is a list of page numbers
  // led by its length.
  check(mdb_cursor_open(txn.get(), 0, &cursor), "mdb_cursor_open");
  size_t pages = 0;
  MDB_val key{};
  MDB_val value{};
  int rc;
  while ((rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) == 0) {
    // Values sit on 2-byte boundaries only.
    size_t n = 0;
    if (value.mv_size >= sizeof(n))
      std::memcpy(&n, value.mv_data, sizeof(n));
    pages += n;
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND)
    check(rc, "mdb_cursor_get");
  return pages * size_t{stat.ms_psize};
}

bool lmdb_env::grow() {
  std::unique_lock<std::shared_mutex> guard{resize_mtx_};
  auto current = map_size();
  if (current >= max_map_size_)
    return false;
  auto next = std::min(current * 2, max_map_size_);
  check(mdb_env_set_mapsize(env_, next), "mdb_env_set_mapsize");
  return true;
}

bool lmdb_env::open_reserve() {
  std::unique_lock<std::shared_mutex> guard{resize_mtx_};
  auto reserve = std::max<size_t>(max_map_size_ / 32, size_t{1} << 20);
  // After earlier freeing commits the map may already reach into the
  // reserve (only those commits extend it there): the rest is still open.
  if (map_size() >= max_map_size_ + reserve)
    return false;
  check(mdb_env_set_mapsize(env_, max_map_size_ + reserve),
        "mdb_env_set_mapsize");
  return true;
}

void lmdb_env::close_reserve() {
  std::unique_lock<std::shared_mutex> guard{resize_mtx_};
  // LMDB keeps at least the size of the data.
  check(mdb_env_set_mapsize(env_, max_map_size_), "mdb_env_set_mapsize");
}

int lmdb_env::clear_stale_readers() {
  int dead = 0;
  check(mdb_reader_check(env_, &dead), "mdb_reader_check");
  return dead;
}

lmdb_txn::lmdb_txn(const lmdb_env& env, mode m)
  : lock_(env.resize_mutex()) {
  check(mdb_txn_begin(env.get(), nullptr, m == read_only ? MDB_RDONLY : 0,
                      &txn_),
        "mdb_txn_begin");
}

lmdb_txn::~lmdb_txn() {
  if (txn_ != nullptr)
    mdb_txn_abort(txn_);
}

void lmdb_txn::commit() {
  auto rc = mdb_txn_commit(txn_);
  txn_ = nullptr; // committed or not, the handle is gone
  check(rc, "mdb_txn_commit");
}

std::optional<std::string_view> lmdb_txn::get(MDB_dbi dbi,
                                              std::string_view key) const {
  auto k = to_val(key);
  MDB_val v{};
  auto rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND)
    return std::nullopt;
  check(rc, "mdb_get");
  return to_view(v);
}

void lmdb_txn::put(MDB_dbi dbi, std::string_view key, std::string_view value,
                   unsigned flags) {
  auto k = to_val(key);
  auto v = to_val(value);
  auto rc = mdb_put(txn_, dbi, &k, &v, flags);
  if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA) != 0)
    return;
  check(rc, "mdb_put");
}

size_t lmdb_txn::entries(MDB_dbi dbi) const {
  MDB_stat stat;
  check(mdb_stat(txn_, dbi, &stat), "mdb_stat");
  return stat.ms_entries;
}

bool lmdb_txn::del(MDB_dbi dbi, std::string_view key,
                   std::optional<std::string_view> value) {
  auto k = to_val(key);
  MDB_val v{};
  if (value)
    v = to_val(*value);
  auto rc = mdb_del(txn_, dbi, &k, value ? &v : nullptr);
  if (rc == MDB_NOTFOUND)
    return false;
  check(rc, "mdb_del");
  return true;
}

} // namespace jobwire
