#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/access.hpp"
#include "actors/delivery_actor.hpp"
#include "actors/frame_sink.hpp"
#include "actors/metrics.hpp"
#include "actors/token_bucket.hpp"
#include "messages/interfaces.hpp"

namespace jobwire {

/// Settings every connection actor shares.
struct connection_settings {
  unsigned heartbeat_seconds = 25;
  size_t max_subscriptions = 128;
  /// A closed connection stays resumable this long after its last activity.
  int64_t ttl_ms = 3600 * 1000;
  /// How often a busy connection writes what its session has sent to its
  /// record, for `resume` after a crash, which may send again what was sent
  /// in the last interval. Every second, 10,000 busy connections cost more
  /// than the events did: a timer message each, and the registry's writes.
  std::chrono::milliseconds progress_interval{10000};
  /// How often a connection with a token checks the token's expiry.
  std::chrono::milliseconds token_check_interval{1000};
  /// The session queue's bounds; frames that do not fit go to the delivery
  /// actor.
  size_t max_queue_bytes = 1 << 20;
  size_t max_queue_frames = 4096;
  /// A replay waiting this long for room in the queue closes the
  /// connection with 1013, as parked frames do in the delivery actor.
  std::chrono::milliseconds slow_consumer{10000};
  /// Null: access control is off.
  verifier_ptr verifier;
  /// Commands per second on average, and at once; past them a command is
  /// answered `rate_limited`.
  double commands_per_second = 50;
  double command_burst = 100;
  /// Refused commands (errors, rate limits) a connection may collect within
  /// a minute before it is closed with 1008; 0: never closed, as the
  /// protocol promises (the session's read pacing bounds a flood anyway).
  unsigned max_errors = 0;
};

/// Replays of stored events waiting for room in the session's queue.
struct replay_wait {
  /// The jobs to ask for their next step.
  std::vector<job_actor> jobs;
  /// Since when they wait (a slow consumer past a limit).
  std::chrono::steady_clock::time_point since;
  /// The wait before looking again, doubling up to a limit: a client that
  /// stopped reading costs few timers.
  std::chrono::milliseconds poll{0};
};

/// The state of one connection actor.
struct connection_state {
  std::weak_ptr<frame_sink> sink;
  std::string connection_id;
  directory_actor directory;
  registry_actor registry;
  delivery_actor delivery;
  /// Shared by every connection: one copy, not one each.
  std::shared_ptr<const connection_settings> settings;
  /// Frames handed to the delivery actor, and whether some still wait
  /// there: while they do, every frame goes there, to keep the order.
  uint64_t parked_total = 0;
  bool parked = false;
  int64_t created_at_ms = 0;
  int64_t last_activity_ms = 0;
  /// Jobs followed, with the last seq sent of each.
  std::unordered_map<std::string, uint64_t> followed;
  /// The record has changed since it was last written, and when that was.
  bool dirty = false;
  std::chrono::steady_clock::time_point written_at{};
  /// A tick is pending. An idle connection has none: ten thousand idle
  /// connections would otherwise cost ten thousand timer messages a second.
  bool ticking = false;
  token_bucket commands{50, 100};
  /// With `max_errors`: the refusals left, refilled over a minute (a
  /// pointer: most servers have no such limit, and every connection would
  /// carry its size).
  std::unique_ptr<token_bucket> error_budget;
  bool error_budget_spent = false;
  /// Another connection resumed this one: the record is not ours to write.
  bool taken_over = false;
  /// A look for room for the waiting replays is due.
  bool replay_polling = false;
  /// Replays waiting for room in the session's queue (a pointer: most
  /// connections never wait, and every one would carry this).
  std::unique_ptr<replay_wait> replay_waiting;
  /// The upgrade's grant, when access control is on (a pointer: most
  /// servers have none, and every connection would carry its size).
  std::unique_ptr<const access_grant> grant;
  /// Jobs followed by the leave of a subscribe's own token rather than the
  /// upgrade's, with that token's expiry (Unix ms): the subscription ends
  /// with it. Made on first use: most connections never need it.
  std::unique_ptr<std::unordered_map<std::string, int64_t>> borrowed;
  gauge_guard open{metrics::global().connections};

  static inline const char* name = "jobwire.connection";
};

/// Runs one WebSocket session's side of the protocol once the session has
/// sent `connected` (at `created_at_ms`): answers what it can itself (ping,
/// limits, parse errors), routes job commands through the directory, keeps
/// its registry record (jobs followed, last seq sent of each) and takes
/// over an earlier connection's subscriptions on `resume`.
connection_actor::behavior_type
connection_impl(connection_actor::stateful_pointer<connection_state> self,
                std::weak_ptr<frame_sink> sink, std::string connection_id,
                int64_t created_at_ms, directory_actor directory,
                registry_actor registry,
                delivery_actor delivery,
                std::shared_ptr<const connection_settings> settings,
                std::optional<access_grant> grant);

} // namespace jobwire
