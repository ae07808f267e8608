#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "persistence/lmdb_env.hpp"
#include "messages/records.hpp"

namespace jobwire {

/// The registry's named databases in one LMDB environment:
/// - connections: connection_id -> connection_record
/// - job_index (sorted duplicates): job_id -> connection_id, the open
///   connections that follow the job
/// - jobs: job_id -> job_record
/// - events: job_id \0 big-endian seq -> the event's JSON
/// - event_ids: job_id \0 event_id -> big-endian seq
/// - expiry: big-endian expires_at, kind, id -> "" (what the sweeper scans)
/// - meta: "format" -> the format tag, so a foreign directory is refused.
/// Callers bring the transaction; writes come from one thread only.
class registry_store {
public:
  /// Opens or creates the databases. Throws lmdb_error, or
  /// std::runtime_error for an environment that is not jobwire's.
  explicit registry_store(lmdb_env& env);

  lmdb_env& env() const {
    return env_;
  }

  // -- jobs -------------------------------------------------------------------

  std::optional<job_record> job(const lmdb_txn& txn,
                                std::string_view job_id) const;

  /// Writes the record, moving its expiry entry if `expires_at_ms` changed.
  /// A finished job expires (the sweep removes it); for a running one the
  /// time says when its job actor looks at it again (`running_jobs_due`).
  void put_job(lmdb_txn& txn, const job_record& x);

  // -- events -----------------------------------------------------------------

  void put_event(lmdb_txn& txn, std::string_view job_id, uint64_t seq,
                 std::string_view json, std::string_view event_id);

  /// Calls `f(seq, json)` for each stored event of the job after `after`,
  /// in seq order, at most `limit` of them, and none more once they came to
  /// `max_bytes`.
  void events_after(const lmdb_txn& txn, std::string_view job_id,
                    uint64_t after, size_t limit,
                    const std::function<void(uint64_t, std::string_view)>& f,
                    size_t max_bytes = SIZE_MAX) const;

  /// The seq an event id was stored with.
  std::optional<uint64_t> event_seq(const lmdb_txn& txn,
                                    std::string_view job_id,
                                    std::string_view event_id) const;

  // -- connections and the job index ------------------------------------------

  std::optional<connection_record>
  connection(const lmdb_txn& txn, std::string_view connection_id) const;

  void put_connection(lmdb_txn& txn, const connection_record& x);

  void delete_connection(lmdb_txn& txn, std::string_view connection_id);

  void add_follower(lmdb_txn& txn, std::string_view job_id,
                    std::string_view connection_id);

  void remove_follower(lmdb_txn& txn, std::string_view job_id,
                       std::string_view connection_id);

  /// The open connections following `job_id` (a range read on job_index).
  std::vector<std::string> followers(const lmdb_txn& txn,
                                     std::string_view job_id) const;

  // -- counts -----------------------------------------------------------------

  struct counts {
    size_t jobs = 0;
    size_t events = 0;
    size_t connections = 0;
  };

  /// What the store holds, from LMDB's own counts (no scan).
  counts stored(const lmdb_txn& txn) const;

  // -- expiry -----------------------------------------------------------------

  /// Removes up to `limit` records that expired at or before `now_ms`, with
  /// everything they own; returns how many. Running jobs stay.
  size_t sweep(lmdb_txn& txn, int64_t now_ms, size_t limit);

  /// Up to `limit` running jobs whose record's `expires_at_ms` is at or
  /// before `now_ms`, the earliest first, except those in `skip`: their job
  /// actors decide whether each is abandoned or its worker lost. The entry
  /// stays until the record is written again. Reads at most 16 * `limit`
  /// entries of the index.
  std::vector<std::string>
  running_jobs_due(const lmdb_txn& txn, int64_t now_ms, size_t limit,
                   const std::unordered_set<std::string>& skip = {}) const;

  /// Marks every connection record that is still `open` as closed at
  /// `now_ms` (after a crash nothing is open): it stays resumable for
  /// `ttl_ms` from now.
  size_t close_open_connections(lmdb_txn& txn, int64_t now_ms, int64_t ttl_ms);

  /// A write of a few bytes (the meta entry "freed-by"), so a commit
  /// follows one that freed pages: LMDB reuses the pages a commit frees
  /// only in the write transactions after the next commit (it keeps the
  /// previous snapshot whole), and a refused write, aborted, commits
  /// nothing.
  void note_freed(lmdb_txn& txn);

private:
  /// Calls `f(kind, id)` for each expiry entry at or before `now_ms`,
  /// earliest first, until `f` returns false.
  template <class F>
  void for_each_due(const lmdb_txn& txn, int64_t now_ms, F&& f) const;

  void give_running_jobs_abandon_times(lmdb_txn& txn);
  void delete_job(lmdb_txn& txn, std::string_view job_id);
  void move_expiry(lmdb_txn& txn, std::string_view id, char old_kind,
                   int64_t old_at, char new_kind, int64_t new_at);

  lmdb_env& env_;
  MDB_dbi meta_ = 0;
  MDB_dbi connections_ = 0;
  MDB_dbi job_index_ = 0;
  MDB_dbi jobs_ = 0;
  MDB_dbi events_ = 0;
  MDB_dbi event_ids_ = 0;
  MDB_dbi expiry_ = 0;
};

} // namespace jobwire
