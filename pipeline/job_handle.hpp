#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "caf/expected.hpp"

#include "messages/ingest.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"
#include "pipeline/client.hpp"

namespace jobwire::pipeline {

/// One job that this process works on: publishes the job's events and, as
/// the job's attached worker, receives its cancel requests.
///
/// `open` spawns a worker actor (`worker_actor`) and attaches it to the
/// job, so that jobwire forwards cancel requests to it and notices when this
/// process dies (the job then fails with `worker_lost` after the server's
/// `--worker-grace`). The destructor detaches the worker and stops it.
///
/// Every publishing call blocks until the server has stored the event and
/// returns its seq; each event gets a fresh `event_id`, and a retry after a
/// lost reply reuses it (see `client::publish`). The calls may be made from
/// any non-CAF thread, also concurrently.
class job_handle {
public:
  /// Called with the reason of a cancel request.
  using cancel_handler = std::function<void(const std::string& reason)>;

  // -- constructors, destructors ---------------------------------------------

  /// Attaches a new worker for `job_id` through `c`. `on_cancel` runs on a
  /// thread of the handle's own, which the first cancel request starts (a
  /// handle holds no thread before), at most once per handle (later
  /// requests are ignored); exceptions it throws are
  /// logged and dropped. It may call this handle's methods (e.g.
  /// `cancelled()`), which block only that thread; the handle must outlive
  /// the call (the destructor waits for a running callback, and starts
  /// none).
  /// Errors: those of `client::attach` (e.g. `invalid_job_id`).
  static caf::expected<job_handle> open(client c, std::string job_id,
                                        cancel_handler on_cancel = {});

  job_handle(job_handle&&) noexcept;
  job_handle& operator=(job_handle&&) noexcept;

  /// Detaches the worker and stops it.
  ~job_handle();

  // -- publishing ----------------------------------------------------------------

  /// A `progress_update` without ETA: the server estimates one.
  caf::expected<uint64_t> progress(std::string stage, double percent,
                                   std::string message);

  /// A `progress_update` with `eta_seconds` remaining (>= 0).
  caf::expected<uint64_t> progress(std::string stage, double percent,
                                   std::string message, double eta_seconds);

  /// A `stage_complete` with `results_json` (a JSON object).
  caf::expected<uint64_t> stage_complete(std::string stage,
                                         std::string results_json = "{}");

  /// A `job_complete` (terminal) with `results_json` (a JSON object).
  caf::expected<uint64_t> complete(std::string results_json = "{}");

  /// A `job_failed` (terminal) with error `code`, `message` and optionally
  /// the `stage` at fault.
  caf::expected<uint64_t> fail(std::string code, std::string message,
                               std::string stage = {});

  /// A `job_cancelled` (terminal) with `reason`. When the job has ended
  /// cancelled already, returns that `job_cancelled`'s seq instead of the
  /// refusal: a cancel that comes while no worker is attached (the server
  /// restarting, or this process's link lost) ends the job at once, and the
  /// worker, told when it attaches again, acknowledges it. Another worker's
  /// `job_cancelled` is acknowledged the same way.
  caf::expected<uint64_t> cancelled(std::string reason);

  /// A `job_cancelled` with the reason of the cancel request received (empty
  /// when none was).
  caf::expected<uint64_t> cancelled();

  /// Publishes `ev` for this job (its `job_id` and, when empty, its
  /// `correlation_id` are set here).
  caf::expected<uint64_t> publish(job_event ev);

  // -- cancel -----------------------------------------------------------------------

  /// Whether a cancel request has arrived. Thread-safe.
  bool cancel_requested() const;

  /// The reason of the cancel request; empty before one arrived.
  std::string cancel_reason() const;

  /// Waits up to `timeout` for a cancel request; returns whether one has
  /// arrived. Lets a job sleep between steps without missing a cancel.
  bool wait_for_cancel(std::chrono::milliseconds timeout) const;

  // -- properties -------------------------------------------------------------------

  const std::string& job_id() const;

  /// The job's snapshot as the server reported it on attaching.
  const job_snapshot& attached_snapshot() const;

  /// The worker actor jobwire sends cancel requests to.
  const worker_actor& worker() const;

  /// Tags every later event with `x` (`correlation_id` on the wire).
  void correlation_id(std::string x);

private:
  struct state;

  explicit job_handle(std::unique_ptr<state> st);

  std::unique_ptr<state> state_;
};

} // namespace jobwire::pipeline
