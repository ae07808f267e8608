#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "messages/interfaces.hpp"
#include "messages/log_throttle.hpp"
#include "persistence/storage.hpp"

namespace jobwire {

/// How the registry keeps time and records.
struct registry_settings {
  /// A closed connection's record stays resumable this long after its last
  /// activity.
  int64_t connection_ttl_ms = 3600 * 1000;
  std::chrono::milliseconds sweep_interval{1000};
  /// Progress records of open connections wait this long at most, then
  /// go in one commit: written one by one, 10,000 busy connections cost
  /// 10,000 scattered page writes and hundreds of fsyncs a second.
  std::chrono::milliseconds progress_interval{1000};
  /// Records removed per sweep transaction, so a sweep never stalls writes.
  size_t sweep_batch = 1000;
  /// Writes gathered into one commit at most.
  size_t max_batch = 4096;
  /// Unix milliseconds; tests bring their own.
  std::function<int64_t()> clock;
};

/// One write waiting for the next commit.
struct pending_write {
  /// Applies the write; returns an error for this write alone (nothing
  /// written), throws lmdb_error to fail the whole transaction.
  std::function<caf::error(lmdb_txn&)> apply;
  /// Runs after the commit (or its failure) with this write's outcome.
  std::function<void(const caf::error&)> done;
  /// Removes more than it adds (the sweep): written even when the store is
  /// full, in the room the environment keeps for that. Its refusal refuses
  /// no client: it leaves the store's health and refused writes alone.
  bool frees_space = false;
  /// Stores a job's events: a store that took these takes publishes again
  /// (smaller writes may fit where an event did not).
  bool stores_events = false;
};

/// The state of the registry actor.
struct registry_state {
  std::shared_ptr<storage> db;
  registry_settings settings;
  std::vector<pending_write> pending;
  bool flush_scheduled = false;
  /// Progress records not yet written, the newest per connection.
  std::unordered_map<std::string, connection_record> progress;
  bool progress_scheduled = false;
  /// The actors of open connections, to tell one it was resumed elsewhere.
  std::unordered_map<std::string, connection_actor> open;
  /// The owners of open connections, with access control on (none without:
  /// an entry for each connection would cost each one its size).
  std::unordered_map<std::string, std::string> owners;
  /// Connections resumed while open: their late writes are dropped. Kept
  /// for the last few thousand only; a late write comes within moments.
  std::unordered_set<std::string> taken_over;
  std::deque<std::string> taken_over_order;
  /// Resumes of connections still open, until their sessions tell what
  /// the peer acknowledged (or the wait for that times out).
  struct pending_takeover {
    caf::typed_response_promise<connection_record> reply;
    connection_record record;
  };
  std::unordered_map<std::string, pending_takeover> takeovers;
  /// Records one sweep removes: halved when the store refuses a sweep (in
  /// a full store a smaller one may fit where 1,000 jobs did not), grown
  /// back to the setting as sweeps succeed.
  size_t sweep_limit = 0;
  /// Sweeps of a single record refused in a row (warned of once).
  unsigned sweep_refusals = 0;
  /// A failing store fails every commit: one line per ten seconds.
  log::throttle failure_log{std::chrono::seconds{10}};

  static inline const char* name = "jobwire.registry";
};

/// The only LMDB writer. Spawn it `caf::detached`: commits block on fsync.
/// On start it marks connections left open by a crash as closed.
registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self,
              std::shared_ptr<storage> db, registry_settings settings);

} // namespace jobwire
