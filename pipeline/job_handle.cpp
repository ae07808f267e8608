#include "pipeline/job_handle.hpp"

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

#include "caf/actor_system.hpp"
#include "caf/exit_reason.hpp"
#include "caf/send.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "messages/error_code.hpp"
#include "messages/log.hpp"

namespace jobwire::pipeline {

namespace {

/// What the worker actor, the handle and its callback thread share: the
/// cancel request. The callback's thread starts with the first request, so
/// a process with many jobs holds no thread per job while none is cancelled.
struct cancel_box : std::enable_shared_from_this<cancel_box> {
  explicit cancel_box(std::string job_id, job_handle::cancel_handler f)
    : job_id(std::move(job_id)), handler(std::move(f)) {
    // nop
  }

  const std::string job_id;
  const job_handle::cancel_handler handler;
  std::atomic<bool> requested{false};
  mutable std::mutex mtx;
  mutable std::condition_variable cv;
  std::string reason;
  bool stopping = false; // the handle is going: no callback starts
  std::thread callback;  // runs the handler, once

  // Runs in the worker actor: records the first request and starts the
  // callback's thread, never blocks.
  void on_cancel(const std::string& why) {
    {
      std::lock_guard guard{mtx};
      if (requested.load())
        return;
      reason = why;
      requested = true;
      if (handler && !stopping)
        start_callback(why);
    }
    cv.notify_all();
  }

  // The handle is going: waits for a running callback, unless this is the
  // callback itself, and starts none from now on.
  void stop() {
    std::thread running;
    {
      std::lock_guard guard{mtx};
      stopping = true;
      running = std::move(callback);
    }
    if (!running.joinable())
      return;
    if (running.get_id() == std::this_thread::get_id())
      running.detach();
    else
      running.join();
  }

private:
  void start_callback(const std::string& why) {
    try {
      callback = std::thread{[self = shared_from_this(), why] {
        self->run_handler(why);
      }};
    } catch (const std::system_error& e) {
      // Out of threads: the request still shows in `cancel_requested`.
      log::error("cannot start the cancel handler's thread",
                 {{"job_id", job_id}, {"reason", e.what()}});
    }
  }

  void run_handler(const std::string& why) {
    try {
      handler(why);
    } catch (std::exception& e) {
      log::error("the cancel handler threw",
                 {{"job_id", job_id}, {"what", e.what()}});
    } catch (...) {
      log::error("the cancel handler threw", {{"job_id", job_id}});
    }
  }
};

/// The worker: turns cancel requests for its job into `cancel_box` calls.
worker_actor::behavior_type worker_impl(worker_actor::pointer,
                                        std::shared_ptr<cancel_box> box) {
  return {
    [box](cancel_atom, const std::string& job_id, const std::string& reason) {
      if (job_id == box->job_id)
        box->on_cancel(reason);
      else
        log::warn("cancel request for another job",
                  {{"job_id", box->job_id}, {"requested_for", job_id}});
    },
  };
}

} // namespace

struct job_handle::state {
  state(client c, std::string id, std::shared_ptr<cancel_box> b)
    : cli(std::move(c)), job_id(std::move(id)), box(std::move(b)) {
    // nop
  }

  client cli;
  std::string job_id;
  std::shared_ptr<cancel_box> box;
  worker_actor worker;
  job_snapshot snapshot;
  std::mutex mtx;
  std::string correlation_id;

  void stop_worker() {
    if (worker) {
      cli.detach(job_id, worker);
      caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
      worker = worker_actor{};
    }
    box->stop();
  }
};

job_handle::job_handle(std::unique_ptr<state> st) : state_(std::move(st)) {
  // nop
}

job_handle::job_handle(job_handle&&) noexcept = default;

job_handle& job_handle::operator=(job_handle&& other) noexcept {
  if (this != &other) {
    if (state_)
      state_->stop_worker();
    state_ = std::move(other.state_);
  }
  return *this;
}

job_handle::~job_handle() {
  if (state_)
    state_->stop_worker();
}

caf::expected<job_handle> job_handle::open(client c, std::string job_id,
                                           cancel_handler on_cancel) {
  auto box = std::make_shared<cancel_box>(job_id, std::move(on_cancel));
  auto st = std::make_unique<state>(std::move(c), std::move(job_id), box);
  // Not detached: CAF 0.17's network layer can stop with a worker's down
  // message still queued, keeping the worker alive, and an actor system
  // waits for every detached actor's thread when it shuts down (for ever,
  // then). The callback, which may block, gets a thread of its own instead,
  // when a cancel comes.
  st->worker = st->cli.system().spawn(worker_impl, box);
  auto snapshot = st->cli.attach(st->job_id, st->worker);
  if (!snapshot) {
    caf::anon_send_exit(st->worker, caf::exit_reason::user_shutdown);
    st->worker = worker_actor{};
    return std::move(snapshot.error());
  }
  st->snapshot = std::move(*snapshot);
  return job_handle{std::move(st)};
}

// -- publishing ----------------------------------------------------------------------

caf::expected<uint64_t> job_handle::publish(job_event ev) {
  ev.job_id = state_->job_id;
  if (ev.correlation_id.empty()) {
    std::lock_guard guard{state_->mtx};
    ev.correlation_id = state_->correlation_id;
  }
  return state_->cli.publish(std::move(ev));
}

caf::expected<uint64_t> job_handle::progress(std::string stage, double percent,
                                             std::string message) {
  job_event ev;
  ev.type = event_type::progress_update;
  ev.stage = std::move(stage);
  ev.progress = percent;
  ev.message = std::move(message);
  return publish(std::move(ev));
}

caf::expected<uint64_t> job_handle::progress(std::string stage, double percent,
                                             std::string message,
                                             double eta_seconds) {
  job_event ev;
  ev.type = event_type::progress_update;
  ev.stage = std::move(stage);
  ev.progress = percent;
  ev.message = std::move(message);
  ev.has_eta = true;
  ev.eta_seconds = eta_seconds;
  return publish(std::move(ev));
}

caf::expected<uint64_t> job_handle::stage_complete(std::string stage,
                                                   std::string results_json) {
  job_event ev;
  ev.type = event_type::stage_complete;
  ev.stage = std::move(stage);
  ev.results = std::move(results_json);
  return publish(std::move(ev));
}

caf::expected<uint64_t> job_handle::complete(std::string results_json) {
  job_event ev;
  ev.type = event_type::job_complete;
  ev.results = std::move(results_json);
  return publish(std::move(ev));
}

caf::expected<uint64_t> job_handle::fail(std::string code, std::string message,
                                         std::string stage) {
  job_event ev;
  ev.type = event_type::job_failed;
  ev.error_code = std::move(code);
  ev.error_message = std::move(message);
  ev.error_stage = std::move(stage);
  return publish(std::move(ev));
}

caf::expected<uint64_t> job_handle::cancelled(std::string reason) {
  job_event ev;
  ev.type = event_type::job_cancelled;
  ev.reason = std::move(reason);
  auto seq = publish(std::move(ev));
  if (seq || seq.error() != error_code::job_finished)
    return seq;
  // Ended already: by a cancel, the terminal event is its job_cancelled.
  auto snap = state_->cli.status(state_->job_id);
  if (snap && snap->status == job_status::cancelled)
    return snap->last_seq;
  return seq;
}

caf::expected<uint64_t> job_handle::cancelled() {
  return cancelled(cancel_reason());
}

// -- cancel ------------------------------------------------------------------------------

bool job_handle::cancel_requested() const {
  return state_->box->requested.load();
}

std::string job_handle::cancel_reason() const {
  std::lock_guard guard{state_->box->mtx};
  return state_->box->reason;
}

bool job_handle::wait_for_cancel(std::chrono::milliseconds timeout) const {
  auto& box = *state_->box;
  std::unique_lock guard{box.mtx};
  return box.cv.wait_for(guard, timeout, [&] { return box.requested.load(); });
}

// -- properties ----------------------------------------------------------------------------

const std::string& job_handle::job_id() const {
  return state_->job_id;
}

const job_snapshot& job_handle::attached_snapshot() const {
  return state_->snapshot;
}

const worker_actor& job_handle::worker() const {
  return state_->worker;
}

void job_handle::correlation_id(std::string x) {
  std::lock_guard guard{state_->mtx};
  state_->correlation_id = std::move(x);
}

} // namespace jobwire::pipeline
