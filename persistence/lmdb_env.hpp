#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>

#include <lmdb.h>

#include "persistence/lmdb_error.hpp"

namespace jobwire {

/// How hard a commit tries to reach the disk.
enum class durability {
  /// fsync data and meta page on every commit: nothing acknowledged is lost.
  sync,
  /// fsync data, not the meta page: a crash may lose the last commit.
  nometasync,
  /// No fsync: the OS writes back when it likes; a power loss loses data.
  nosync,
};

/// Parses "sync", "nometasync" or "nosync".
std::optional<durability> parse_durability(std::string_view x);

/// How to open the environment.
struct env_options {
  std::string path;
  size_t map_size = size_t{1} << 30;
  size_t max_map_size = size_t{16} << 30;
  jobwire::durability durability = durability::sync;
  unsigned max_dbs = 8;
};

/// One LMDB environment per process (RAII). Read transactions use MDB_NOTLS,
/// so any actor thread may run one, inside one message handler.
class lmdb_env {
public:
  /// Opens (creating files if needed) the environment in `opts.path`, which
  /// must exist. Throws lmdb_error.
  explicit lmdb_env(const env_options& opts);

  ~lmdb_env();

  lmdb_env(const lmdb_env&) = delete;
  lmdb_env& operator=(const lmdb_env&) = delete;

  MDB_env* get() const {
    return env_;
  }

  size_t map_size() const;

  size_t max_map_size() const {
    return max_map_size_;
  }

  /// Bytes of the map in use (pages of the last transaction).
  size_t used_bytes() const;

  /// Bytes of those pages free for reuse, from LMDB's free list (read in a
  /// transaction of its own).
  size_t free_bytes() const;

  /// Doubles the map, up to the maximum; false when already there. Waits
  /// until no transaction of this process is open.
  bool grow();

  /// Opens room beyond the maximum (1/32 of it, at least 1 MiB) for a
  /// commit that frees space: LMDB writes even a delete to new pages before
  /// it frees the old, so a store full to its maximum could never forget
  /// its expired records. False when all of it is in use. Waits as `grow`
  /// does.
  bool open_reserve();

  /// Back to the maximum, or to what the data uses if that is more; the
  /// pages the freeing commit let go are reused first.
  void close_reserve();

  /// Releases reader slots of processes that died holding them.
  int clear_stale_readers();

  /// Held shared by every transaction and exclusively by `grow`, since LMDB
  /// may only resize while no transaction is active.
  std::shared_mutex& resize_mutex() const {
    return resize_mtx_;
  }

private:
  MDB_env* env_ = nullptr;
  size_t max_map_size_;
  mutable std::shared_mutex resize_mtx_;
};

/// A transaction (RAII): aborted unless committed.
class lmdb_txn {
public:
  enum mode { read_only, read_write };

  lmdb_txn(const lmdb_env& env, mode m);

  ~lmdb_txn();

  lmdb_txn(const lmdb_txn&) = delete;
  lmdb_txn& operator=(const lmdb_txn&) = delete;

  MDB_txn* get() const {
    return txn_;
  }

  void commit();

  /// The value under `key`, valid until the transaction ends.
  std::optional<std::string_view> get(MDB_dbi dbi, std::string_view key) const;

  void put(MDB_dbi dbi, std::string_view key, std::string_view value,
           unsigned flags = 0);

  /// Deletes `key` (with `value` only, in a DUPSORT database); false when
  /// there was nothing to delete.
  bool del(MDB_dbi dbi, std::string_view key,
           std::optional<std::string_view> value = std::nullopt);

  /// How many entries `dbi` holds (LMDB keeps the count: no scan).
  size_t entries(MDB_dbi dbi) const;

  /// Calls `f(key, value)` for every entry whose key starts with `prefix`,
  /// in key order, starting at `from` (>= prefix); stops when f returns false.
  template <class F>
  void scan(MDB_dbi dbi, std::string_view prefix, std::string_view from,
            F&& f) const;

  /// Calls `f(value)` for each duplicate of `key` in a DUPSORT database.
  template <class F>
  void for_each_dup(MDB_dbi dbi, std::string_view key, F&& f) const;

private:
  std::shared_lock<std::shared_mutex> lock_;
  MDB_txn* txn_ = nullptr;
};

inline MDB_val to_val(std::string_view x) {
  return MDB_val{x.size(), const_cast<char*>(x.data())};
}

inline std::string_view to_view(const MDB_val& x) {
  return {static_cast<const char*>(x.mv_data), x.mv_size};
}

/// A cursor (RAII) for the scans.
class lmdb_cursor {
public:
  lmdb_cursor(MDB_txn* txn, MDB_dbi dbi) {
    check(mdb_cursor_open(txn, dbi, &cur_), "mdb_cursor_open");
  }

  ~lmdb_cursor() {
    mdb_cursor_close(cur_);
  }

  lmdb_cursor(const lmdb_cursor&) = delete;
  lmdb_cursor& operator=(const lmdb_cursor&) = delete;

  /// Positions with `op`; false at the end (MDB_NOTFOUND).
  bool move(MDB_val& key, MDB_val& value, MDB_cursor_op op) {
    auto rc = mdb_cursor_get(cur_, &key, &value, op);
    if (rc == MDB_NOTFOUND)
      return false;
    check(rc, "mdb_cursor_get");
    return true;
  }

private:
  MDB_cursor* cur_ = nullptr;
};

template <class F>
void lmdb_txn::scan(MDB_dbi dbi, std::string_view prefix,
                    std::string_view from, F&& f) const {
  lmdb_cursor cur{txn_, dbi};
  auto key = to_val(from);
  MDB_val value{};
  // LMDB refuses empty keys: an empty `from` means the first entry.
  for (bool ok = cur.move(key, value, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
       ok;
       ok = cur.move(key, value, MDB_NEXT)) {
    auto k = to_view(key);
    if (!k.starts_with(prefix) || !f(k, to_view(value)))
      return;
  }
}

template <class F>
void lmdb_txn::for_each_dup(MDB_dbi dbi, std::string_view key, F&& f) const {
  lmdb_cursor cur{txn_, dbi};
  auto k = to_val(key);
  MDB_val value{};
  for (bool ok = cur.move(k, value, MDB_SET_KEY); ok;
       ok = cur.move(k, value, MDB_NEXT_DUP))
    f(to_view(value));
}

} // namespace jobwire
