#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "caf/actor_addr.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/eta_estimator.hpp"
#include "actors/metrics.hpp"
#include "messages/interfaces.hpp"
#include "persistence/storage.hpp"

namespace jobwire {

/// What every job actor is configured with.
struct job_settings {
  /// A finished job and its events are kept this long after the terminal
  /// event.
  int64_t retention_ms = 86400 * 1000;
  /// A job with no subscribers and no traffic for this long leaves memory.
  std::chrono::milliseconds idle{60000};
  /// Job actors in memory at most (the directory's): past it, jobs not in
  /// memory are refused with rate_limited while idle ones are let go.
  size_t max_live = 1'000'000;
  /// Publishes waiting while a batch is being stored; more are refused with
  /// rate_limited.
  size_t max_queued = 10000;
  /// Events stored in one batch at most.
  size_t max_batch = 512;
  /// A running job whose last worker went is failed with `worker_lost`
  /// when none attaches within this time; so is one whose worker was
  /// attached when the server stopped, once it is back.
  std::chrono::milliseconds worker_grace{30000};
  /// A running job with no event for this long and no worker attached
  /// fails with `abandoned` (an HTTP publisher that died), so its events
  /// do not stay forever.
  /// 0: never.
  int64_t abandon_ms = int64_t{7} * 86400 * 1000;
  /// One step of a replay of stored events: at most this many, and none
  /// more once they come to the bytes (the server sets a quarter of a
  /// connection's queue, at most these). The whole history at once
  /// overflowed the queue: progress updates were coalesced and the parked
  /// rest closed even a fast reader as a slow consumer.
  size_t replay_step_frames = 256;
  size_t replay_step_bytes = 256 * 1024;
};

/// How far ahead a running job that expects a worker is due to be looked
/// at again: the grace, kept within [1 ms, 1 min]. Its expiry entry lies
/// at most two windows after its last store.
inline int64_t worker_window_ms(const job_settings& settings) {
  return std::clamp<int64_t>(settings.worker_grace.count(), 1, 60000);
}

/// A connection that follows a job.
struct job_subscriber {
  connection_actor handle;
  std::string connection_id;
  /// The highest seq this connection has been sent; while an earlier
  /// stretch replays (below), how far that replay got.
  uint64_t last_sent = 0;
  /// Every event after this one has been sent, or is being replayed: a
  /// repeated subscribe with a lower `since_seq` replays those in between.
  uint64_t first = 0;
  /// While such an earlier stretch replays: the events in (skip_from,
  /// skip_to] were sent before it, and the replay jumps over them.
  uint64_t skip_from = 0;
  uint64_t skip_to = 0;
  /// Stored events are being replayed to it a step at a time, each asked
  /// for once its queue has room; live events wait in the store meanwhile.
  bool replaying = false;
};

/// What a publish waits for: its seq (or error) and the snapshot after it.
using publish_reply
  = std::function<void(const caf::error&, uint64_t, const job_snapshot&)>;

/// A publish waiting for its batch.
struct queued_publish {
  job_event event;
  publish_reply reply;
  /// A cancel: the stored snapshot says cancel_requested.
  bool cancel = false;
  /// No event: the snapshot alone is stored (a cancel passed on to the
  /// workers, a new time to be looked at), then `reply` gets seq 0.
  bool snapshot_only = false;
};

/// The state of one job actor.
struct job_state {
  std::shared_ptr<storage> db;
  registry_actor registry;
  directory_actor directory;
  job_settings settings;
  /// The job as stored: only committed events count here.
  job_snapshot snapshot;
  /// The snapshot after the batch being stored, while one is.
  std::optional<job_snapshot> in_flight;
  eta_estimator eta;
  std::deque<queued_publish> queue;
  std::unordered_map<caf::actor_addr, job_subscriber> subscribers;
  std::unordered_map<caf::actor_addr, worker_actor> workers;
  /// A cancel was asked for; kept until the next stored snapshot has it.
  bool cancel_requested = false;
  /// Its reason, for workers that attach later and for a job whose worker
  /// is lost before it ends the job.
  std::string cancel_reason;
  /// Tells the current grace timer from stale ones (timers cannot be
  /// cancelled in CAF 0.17).
  uint64_t grace_generation = 0;
  /// A grace timer runs: the job stays in memory for it.
  bool grace_pending = false;
  /// What the record last handed to the store says (`worker_expected`).
  bool stored_worker_expected = false;
  /// Messages taken from the directory; see its idle protocol.
  uint64_t handled = 0;
  /// When the job last had traffic.
  caf::actor_clock::time_point last_activity;
  gauge_guard live{metrics::global().live_jobs};

  ~job_state() {
    metrics::global().subscriptions -= static_cast<int64_t>(subscribers.size());
  }

  static inline const char* name = "jobwire.job";
};

/// `job_not_found` for a job with no events: none yet, or they expired.
caf::error job_not_found(const std::string& job_id);

/// Runs the job `job_id`, starting from its stored record if it has one.
job_actor::behavior_type job_impl(job_actor::stateful_pointer<job_state> self,
                                  std::string job_id,
                                  std::shared_ptr<storage> db,
                                  registry_actor registry,
                                  directory_actor directory,
                                  job_settings settings);

} // namespace jobwire
