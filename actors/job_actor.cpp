#include "actors/job_actor.hpp"

#include <algorithm>

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/log_throttle.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

using self_ptr = job_actor::stateful_pointer<job_state>;

job_status status_after(event_type x) {
  switch (x) {
    case event_type::job_complete:
      return job_status::completed;
    case event_type::job_failed:
      return job_status::failed;
    case event_type::job_cancelled:
      return job_status::cancelled;
    default:
      return job_status::running;
  }
}

void apply_to_snapshot(job_snapshot& snap, const job_event& ev) {
  snap.status = status_after(ev.type);
  snap.last_seq = ev.seq;
  snap.updated_at_ms = ev.timestamp_ms;
  switch (ev.type) {
    case event_type::progress_update:
      snap.stage = ev.stage;
      snap.progress = ev.progress;
      snap.message = ev.message;
      snap.has_eta = ev.has_eta;
      snap.eta_seconds = ev.eta_seconds;
      break;
    case event_type::stage_complete:
      snap.stage = ev.stage;
      snap.progress = 100;
      snap.has_eta = false;
      break;
    case event_type::job_complete:
      snap.progress = 100;
      snap.has_eta = true;
      snap.eta_seconds = 0;
      break;
    case event_type::job_failed:
      if (!ev.error_stage.empty())
        snap.stage = ev.error_stage;
      snap.message = ev.error_message;
      snap.has_eta = false;
      break;
    case event_type::job_cancelled:
      snap.has_eta = false;
      break;
  }
}

/// The status the job will have once what is being stored is stored.
const job_snapshot& projected(const job_state& st) {
  return st.in_flight ? *st.in_flight : st.snapshot;
}

void send_frame(self_ptr self, const connection_actor& who, std::string text) {
  self->send(who, frame_atom::value, make_frame(std::move(text)));
}

caf::error finished_error(const job_snapshot& snap) {
  return caf::make_error(error_code::job_finished,
                         "job '" + snap.job_id + "' has already ended ("
                           + std::string{to_string(snap.status)} + ")");
}

bool is_progress_frame(std::string_view json) {
  return json.starts_with(R"({"type":"progress_update")");
}

// -- idle and passivation -------------------------------------------------------

bool is_idle(const job_state& st) {
  return st.subscribers.empty() && st.workers.empty() && st.queue.empty()
         && !st.in_flight && !st.grace_pending;
}

/// Tells the directory this job may leave memory, if it is idle. The
/// directory lets it go only if nothing was sent to it since (`handled`).
void offer_to_leave(self_ptr self) {
  auto& st = self->state;
  if (is_idle(st))
    self->send(st.directory, idle_atom::value, st.snapshot.job_id, st.handled);
}

/// Called after every message: a job with nothing to do and no events, or
/// finished (its state is all on disk), leaves memory at once.
void note_activity(self_ptr self) {
  auto& st = self->state;
  st.last_activity = self->clock().now();
  if (st.snapshot.last_seq == 0 || is_finished(st.snapshot.status))
    offer_to_leave(self);
}

/// The directory's periodic tick: a running job idle for `settings.idle`
/// leaves memory too. (No timer of the job's own: a pending CAF 0.17 timer
/// keeps its actor's memory alive until it fires.)
void on_idle_tick(self_ptr self) {
  auto& st = self->state;
  if (self->clock().now() - st.last_activity >= st.settings.idle)
    offer_to_leave(self);
}

// -- storing ----------------------------------------------------------------------

/// One batch on its way to the store.
struct batch {
  job_snapshot after;
  std::vector<stored_event> events;
  std::vector<frame_ptr> frames;
  std::vector<event_type> types;
  std::vector<std::string> correlation_ids;
  /// Replies, with the seq each waits for.
  std::vector<std::pair<publish_reply, uint64_t>> replies;
  /// Stored even without events (see `queued_publish::snapshot_only`).
  bool snapshot_only = false;
};

void send_batch(self_ptr self);

int64_t round_up(int64_t at, int64_t grain) {
  return (at + grain - 1) / grain * grain;
}

/// When the directory should hand a running job stored at `now_ms` back to
/// its actor (0: never). Without a worker: when it counts as abandoned if
/// nothing happens. With one (or one awaited): within the grace (at most a
/// minute), so that a server that crashed notices, once back, a worker
/// that never returns.
/// Rounded up to a grain, so a busy job's expiry entry moves once per
/// grain (at most a minute) and not with every batch.
int64_t look_again_at(int64_t now_ms, const job_settings& settings,
                      bool worker_expected) {
  if (worker_expected) {
    auto window = worker_window_ms(settings);
    return round_up(now_ms + window, window);
  }
  if (settings.abandon_ms <= 0)
    return 0;
  auto grain = std::clamp<int64_t>(settings.abandon_ms / 16, 1, 60000);
  return round_up(now_ms + settings.abandon_ms, grain);
}

/// Sends each subscriber the stored `frames` (seq order) it has not been
/// sent, as one message; most get the same shared batch.
void fan_out(self_ptr self, const std::vector<frame_ptr>& frames) {
  if (frames.empty())
    return;
  auto& st = self->state;
  auto first = frames.front()->seq;
  auto last = frames.back()->seq;
  frame_batch all;
  for (auto& [addr, sub] : st.subscribers) {
    // A replay takes these from the store once it gets to them.
    if (sub.replaying || sub.last_sent >= last)
      continue;
    if (sub.last_sent < first) {
      if (!all)
        all = std::make_shared<const std::vector<frame_ptr>>(frames);
      self->send(sub.handle, frame_atom::value, all);
    } else {
      // Replayed part of the batch already (subscribed meanwhile).
      auto rest = std::make_shared<std::vector<frame_ptr>>();
      for (auto& f : frames)
        if (f->seq > sub.last_sent)
          rest->push_back(f);
      self->send(sub.handle, frame_atom::value, frame_batch{std::move(rest)});
    }
    sub.last_sent = last;
  }
}

void on_stored(self_ptr self, const std::shared_ptr<batch>& b) {
  auto& st = self->state;
  st.snapshot = b->after;
  st.snapshot.cancel_requested |= st.cancel_requested;
  st.in_flight.reset();
  // Publishers first: their acknowledgement need not wait for the fan-out.
  for (auto& [reply, seq] : b->replies)
    reply(caf::error{}, seq, st.snapshot);
  fan_out(self, b->frames);
  for (auto type : b->types)
    ++metrics::global().events_published[static_cast<size_t>(type)];
  if (log::enabled(spdlog::level::debug))
    for (size_t i = 0; i < b->frames.size(); ++i)
      log::debug("event stored",
                 {{"job_id", st.snapshot.job_id},
                  {"seq", std::to_string(b->frames[i]->seq)},
                  {"type", to_string(b->types[i])},
                  {"correlation_id", b->correlation_ids[i]}});
  if (is_finished(st.snapshot.status))
    log::info("job finished", {{"job_id", st.snapshot.job_id},
                               {"status", to_string(st.snapshot.status)}});
  send_batch(self);
  note_activity(self);
}

void on_store_failed(self_ptr self, const std::shared_ptr<batch>& b,
                     const caf::error& err, const eta_estimator& eta_before) {
  auto& st = self->state;
  st.in_flight.reset();
  st.eta = eta_before;
  // A full store refuses every publish: a line per ten seconds, with how
  // many were held back, for all jobs together.
  static log::throttle throttle{std::chrono::seconds{10}};
  if (auto held_back = throttle.admit())
    log::error("events not stored",
               {{"job_id", st.snapshot.job_id},
                {"count", std::to_string(b->frames.size())},
                {"reason", error_message(err)},
                {"held_back", std::to_string(*held_back)}});
  for (auto& [reply, seq] : b->replies)
    reply(err, 0, st.snapshot);
  send_batch(self);
  note_activity(self);
}

/// Takes what is queued into one batch and hands it to the registry. One
/// batch at a time, so a failed batch never leaves a gap behind a later one.
void send_batch(self_ptr self) {
  auto& st = self->state;
  if (st.in_flight || st.queue.empty())
    return;
  auto b = std::make_shared<batch>();
  b->after = st.snapshot;
  auto eta_before = st.eta;
  std::unordered_map<std::string, uint64_t> batch_ids;
  std::optional<lmdb_txn> txn;
  while (!st.queue.empty() && b->events.size() < st.settings.max_batch) {
    auto item = std::move(st.queue.front());
    st.queue.pop_front();
    if (item.snapshot_only) {
      b->replies.emplace_back(std::move(item.reply), 0);
      b->snapshot_only = true;
      continue;
    }
    auto& ev = item.event;
    if (!ev.event_id.empty()) {
      // A retried publish: answer with the seq it got the first time.
      if (auto i = batch_ids.find(ev.event_id); i != batch_ids.end()) {
        b->replies.emplace_back(std::move(item.reply), i->second);
        continue;
      }
      std::optional<uint64_t> seen;
      try {
        if (!txn)
          txn.emplace(st.db->env, lmdb_txn::read_only);
        seen = st.db->store.event_seq(*txn, st.snapshot.job_id, ev.event_id);
      } catch (const std::exception& e) {
        item.reply(caf::make_error(error_code::internal,
                                   std::string{"the store failed"}),
                   0, b->after);
        continue;
      }
      if (seen) {
        item.reply(caf::error{}, *seen, b->after);
        continue;
      }
    }
    if (is_finished(b->after.status)) {
      item.reply(finished_error(b->after), 0, b->after);
      continue;
    }
    ev.job_id = st.snapshot.job_id;
    ev.seq = b->after.last_seq + 1;
    ev.timestamp_ms = unix_now_ms();
    if (ev.type == event_type::progress_update) {
      auto estimate = st.eta.update(ev.stage, ev.progress, self->clock().now());
      // A publisher that said null knows better than the estimate.
      if (!ev.has_eta && ev.eta_seconds != eta_said_unknown && estimate) {
        ev.has_eta = true;
        ev.eta_seconds = *estimate;
      }
    }
    if (item.cancel)
      st.cancel_requested = true;
    apply_to_snapshot(b->after, ev);
    auto frame = make_event_frame(encode_event(ev), ev.job_id, ev.seq,
                                  ev.type == event_type::progress_update);
    b->events.push_back({ev.seq, frame->text, ev.event_id});
    b->frames.push_back(std::move(frame));
    b->types.push_back(ev.type);
    b->correlation_ids.push_back(ev.correlation_id);
    if (!ev.event_id.empty())
      batch_ids.emplace(ev.event_id, ev.seq);
    b->replies.emplace_back(std::move(item.reply), ev.seq);
  }
  txn.reset();
  if (b->events.empty() && !b->snapshot_only) {
    // Only duplicates: answer them now, nothing to store.
    for (auto& [reply, seq] : b->replies)
      reply(caf::error{}, seq, st.snapshot);
    return send_batch(self);
  }
  b->after.cancel_requested |= st.cancel_requested;
  job_record rec;
  rec.snapshot = b->after;
  if (rec.snapshot.cancel_requested)
    rec.cancel_reason = st.cancel_reason;
  rec.worker_expected = !st.workers.empty() || st.grace_pending;
  if (is_finished(rec.snapshot.status))
    rec.expires_at_ms = rec.snapshot.updated_at_ms + st.settings.retention_ms;
  else
    rec.expires_at_ms = look_again_at(unix_now_ms(), st.settings,
                                      rec.worker_expected);
  st.stored_worker_expected = rec.worker_expected;
  st.in_flight = b->after;
  auto events = std::move(b->events);
  self->request(st.registry, caf::infinite, store_atom::value, std::move(rec),
                std::move(events))
    .then([self, b](uint64_t) { on_stored(self, b); },
          [self, b, eta_before](caf::error& err) {
            on_store_failed(self, b, err, eta_before);
          });
}

/// Queues a publish; false (with `reply` called) when the queue is full.
void enqueue(self_ptr self, queued_publish item) {
  auto& st = self->state;
  if (st.queue.size() >= st.settings.max_queued) {
    item.reply(caf::make_error(error_code::rate_limited,
                               "job '" + st.snapshot.job_id
                                 + "' has too many events waiting to be "
                                   "stored; retry later"),
               0, st.snapshot);
    return;
  }
  st.queue.push_back(std::move(item));
  send_batch(self);
}

// -- commands ---------------------------------------------------------------------

/// Sends `sub` the next step of stored events after what it was sent, up
/// to what is committed; while more remain, it is told so and asks for the
/// next step once its queue has room. The batch in flight, if any, reaches
/// it when stored, once the replay has caught up.
void replay_step(self_ptr self, job_subscriber& sub,
                 const request_tag& request_id) {
  auto& st = self->state;
  auto last = st.snapshot.last_seq;
  auto from = sub.last_sent;
  // An earlier stretch replays up to what was sent before it.
  auto upto = sub.skip_to > 0 ? sub.skip_from : last;
  if (from < upto) {
    try {
      lmdb_txn txn{st.db->env, lmdb_txn::read_only};
      st.db->store.events_after(
        txn, st.snapshot.job_id, from,
        std::min<uint64_t>(upto - from, st.settings.replay_step_frames),
        [&](uint64_t seq, std::string_view json) {
          self->send(sub.handle, frame_atom::value,
                     make_event_frame(std::string{json}, st.snapshot.job_id,
                                      seq, is_progress_frame(json)));
          sub.last_sent = seq;
        },
        st.settings.replay_step_bytes);
    } catch (const std::exception& e) {
      log::error("replay failed", {{"job_id", st.snapshot.job_id},
                                   {"connection_id", sub.connection_id},
                                   {"reason", e.what()}});
      send_frame(self, sub.handle,
                 encode_error(error_code::internal,
                              "stored events could not be read", request_id,
                              st.snapshot.job_id, unix_now_ms()));
      sub.last_sent = upto;
    }
    if (sub.last_sent == from) {
      // The store has none of them: go on rather than ask forever.
      log::error("replay found no stored events",
                 {{"job_id", st.snapshot.job_id},
                  {"connection_id", sub.connection_id},
                  {"after", std::to_string(from)}});
      sub.last_sent = upto;
    }
  }
  if (sub.skip_to > 0 && sub.last_sent >= upto) {
    sub.last_sent = std::max(sub.last_sent, sub.skip_to);
    sub.skip_from = sub.skip_to = 0;
  }
  sub.replaying = sub.last_sent < last;
  if (sub.replaying)
    self->send(sub.handle, replay_atom::value, st.snapshot.job_id);
}

void subscribe(self_ptr self, const client_command& cmd,
               const connection_actor& who, const std::string& conn_id) {
  auto& st = self->state;
  auto last = st.snapshot.last_seq;
  auto start = cmd.has_since_seq ? cmd.since_seq : last;
  auto [it, added] = st.subscribers.try_emplace(
    who.address(), job_subscriber{.handle = who,
                                  .connection_id = conn_id,
                                  .last_sent = std::min(start, last),
                                  .first = std::min(start, last)});
  auto& sub = it->second;
  if (added) {
    self->monitor(who);
    ++metrics::global().subscriptions;
  } else if (cmd.has_since_seq && start < sub.first && sub.skip_to == 0) {
    // Events this connection was never sent: replayed now, in order, then
    // the replay jumps over what it was sent and goes on from there.
    if (sub.last_sent > sub.first) {
      sub.skip_from = sub.first;
      sub.skip_to = sub.last_sent;
    }
    sub.first = sub.last_sent = start;
  } else {
    // Nothing twice: a replay under way goes on from where it is.
    start = std::max(start, sub.last_sent);
  }
  self->send(who, frame_atom::value,
             make_subscribed_frame(encode_subscribed(st.snapshot,
                                                     cmd.request_id,
                                                     unix_now_ms()),
                                   st.snapshot.job_id, std::min(start, last)));
  if (!sub.replaying)
    replay_step(self, sub, cmd.request_id);
}

/// With workers attached the cancel goes to them, and the job ends when
/// one publishes job_cancelled; with none it ends at once.
/// `requester` (may be null) has had its reply; every other subscriber
/// hears of the cancel too.
void cancel(self_ptr self, const std::string& reason, publish_reply reply,
            const caf::actor_addr& requester = {}) {
  auto& st = self->state;
  log::info("job cancel requested",
            {{"job_id", st.snapshot.job_id},
             {"workers", std::to_string(st.workers.size())}});
  auto note = make_frame(
    encode_cancel_requested(st.snapshot.job_id, {}, unix_now_ms()));
  for (auto& [addr, sub] : st.subscribers)
    if (addr != requester)
      self->send(sub.handle, frame_atom::value, note);
  st.cancel_reason = reason;
  if (!st.workers.empty()) {
    st.cancel_requested = true;
    st.snapshot.cancel_requested = true;
    for (auto& [addr, worker] : st.workers)
      self->send(worker, cancel_atom::value, st.snapshot.job_id, reason);
    // Acknowledged once stored, as a publish is: a server restarted before
    // the worker's next event still says so, and tells a worker that
    // attaches.
    enqueue(self, queued_publish{.event = {},
                                 .reply = std::move(reply),
                                 .snapshot_only = true});
    return;
  }
  job_event ev;
  ev.type = event_type::job_cancelled;
  ev.reason = reason;
  enqueue(self, queued_publish{std::move(ev), std::move(reply), true});
}

// -- workers ----------------------------------------------------------------------

/// After the last worker went from a running job: wait for another.
void start_grace(self_ptr self) {
  auto& st = self->state;
  if (!st.workers.empty() || projected(st).status != job_status::running)
    return;
  st.grace_pending = true;
  self->delayed_send(self, st.settings.worker_grace, grace_atom::value,
                     ++st.grace_generation);
}

void ignore_reply(const caf::error&, uint64_t, const job_snapshot&) {
  // Nobody waits for what the server publishes itself; a failed store is
  // logged by on_store_failed.
}

/// Ends a running job that nothing runs any more: failed with `code`, or
/// cancelled if a cancel was asked for (asked to stop, and now stopped).
void end_unattended(self_ptr self, const char* code, std::string message) {
  auto& st = self->state;
  job_event ev;
  if (st.cancel_requested) {
    log::info("job stopped after a cancel; cancelling it",
              {{"job_id", st.snapshot.job_id}, {"cause", code}});
    ev.type = event_type::job_cancelled;
    ev.reason = st.cancel_reason;
  } else {
    log::warn("failing job", {{"job_id", st.snapshot.job_id},
                              {"code", code}, {"message", message}});
    ev.type = event_type::job_failed;
    ev.error_code = code;
    ev.error_message = std::move(message);
  }
  enqueue(self, queued_publish{.event = std::move(ev), .reply = ignore_reply});
}

void on_grace(self_ptr self, uint64_t generation) {
  auto& st = self->state;
  if (generation != st.grace_generation)
    return;
  st.grace_pending = false;
  if (!st.workers.empty() || projected(st).status != job_status::running)
    return;
  end_unattended(self, "worker_lost",
                 "the job's worker was lost and none attached within "
                   + std::to_string(st.settings.worker_grace.count() / 1000)
                   + " s");
}

/// The directory found this running job's time to be looked at passed.
void on_recheck(self_ptr self) {
  auto& st = self->state;
  const auto& snap = projected(st);
  // A store under way writes a new time, or ends the job.
  if (snap.status != job_status::running || st.in_flight || !st.queue.empty())
    return;
  if (st.workers.empty() && (st.grace_pending || st.stored_worker_expected)) {
    // A grace timer decides. None runs when a worker was attached (or
    // awaited) as the server stopped and none has come back: as if it had
    // just gone.
    if (!st.grace_pending) {
      log::info("job's worker has not come back since the restart",
                {{"job_id", st.snapshot.job_id}});
      start_grace(self);
    }
    return;
  }
  auto silent_ms = unix_now_ms() - snap.updated_at_ms;
  if (st.settings.abandon_ms > 0 && st.workers.empty()
      && silent_ms >= st.settings.abandon_ms) {
    end_unattended(self, "abandoned",
                   "the job had no event for "
                     + std::to_string(silent_ms / 1000)
                     + " s and no worker attached");
    return;
  }
  // Alive (a worker is attached, silent as it may be), or the time came
  // from a shorter setting: store the snapshot with a new time.
  enqueue(self, queued_publish{.event = {},
                               .reply = ignore_reply,
                               .snapshot_only = true});
}

void detach(self_ptr self, const caf::actor_addr& addr) {
  auto& st = self->state;
  if (st.workers.erase(addr) > 0 && st.workers.empty())
    start_grace(self);
}

void handle_command(self_ptr self, const client_command& cmd,
                    const connection_actor& who, const std::string& conn_id) {
  auto& st = self->state;
  auto now = unix_now_ms();
  auto reply_error = [&](const caf::error& err) {
    send_frame(self, who,
               encode_error(to_error_code(err), error_message(err),
                            cmd.request_id, cmd.job_id, now));
  };
  switch (cmd.type) {
    case command_type::subscribe:
      subscribe(self, cmd, who, conn_id);
      break;
    case command_type::unsubscribe:
      if (st.subscribers.erase(who.address()) > 0) {
        self->demonitor(who.address());
        --metrics::global().subscriptions;
      }
      send_frame(self, who,
                 encode_unsubscribed(cmd.job_id, cmd.request_id, now));
      break;
    case command_type::request_status:
      if (st.snapshot.last_seq == 0)
        reply_error(job_not_found(st.snapshot.job_id));
      else
        send_frame(self, who,
                   encode_job_status(st.snapshot, cmd.request_id, now));
      break;
    case command_type::cancel_job:
      if (projected(st).last_seq == 0) {
        reply_error(job_not_found(st.snapshot.job_id));
      } else if (is_finished(projected(st).status)) {
        reply_error(finished_error(projected(st)));
      } else {
        // The reply goes before the event the command causes.
        send_frame(self, who,
                   encode_cancel_requested(cmd.job_id, cmd.request_id, now));
        auto job_id = cmd.job_id;
        auto request_id = cmd.request_id;
        cancel(self, cmd.reason,
               [self, who, job_id, request_id](const caf::error& err, uint64_t,
                                               const job_snapshot&) {
                 if (err)
                   self->send(who, frame_atom::value,
                              make_frame(encode_error(
                                to_error_code(err), error_message(err),
                                request_id, job_id, unix_now_ms())));
               },
               who.address());
      }
      break;
    default:
      reply_error(caf::make_error(error_code::internal,
                                  "command not handled by a job"));
  }
}

/// Loads the stored record, if any.
void load(self_ptr self) {
  auto& st = self->state;
  try {
    lmdb_txn txn{st.db->env, lmdb_txn::read_only};
    if (auto rec = st.db->store.job(txn, st.snapshot.job_id)) {
      st.snapshot = rec->snapshot;
      // A stored cancel still stands: workers that attach to the running
      // job are told, and a lost worker ends it cancelled.
      st.cancel_requested = st.snapshot.cancel_requested;
      st.cancel_reason = std::move(rec->cancel_reason);
      st.stored_worker_expected = rec->worker_expected;
    }
  } catch (const std::exception& e) {
    // Refusing to run beats reusing seqs of a job we cannot read.
    log::error("cannot load job", {{"job_id", st.snapshot.job_id},
                                   {"reason", e.what()}});
    self->quit(caf::make_error(error_code::internal,
                               std::string{"cannot load job"}));
  }
}

} // namespace

caf::error job_not_found(const std::string& job_id) {
  // An expired job answers as one never published to: say both.
  return caf::make_error(error_code::job_not_found,
                         "job '" + job_id
                           + "' has no events (none yet, or they expired)");
}

job_actor::behavior_type job_impl(job_actor::stateful_pointer<job_state> self,
                                  std::string job_id,
                                  std::shared_ptr<storage> db,
                                  registry_actor registry,
                                  directory_actor directory,
                                  job_settings settings) {
  auto& st = self->state;
  st.snapshot.job_id = std::move(job_id);
  st.db = std::move(db);
  st.registry = std::move(registry);
  st.directory = std::move(directory);
  st.settings = settings;
  load(self);
  self->set_down_handler([self](const caf::down_msg& dm) {
    // A subscriber's connection or a worker (its process died, or its link
    // stopped answering heartbeats).
    if (self->state.subscribers.erase(dm.source) > 0)
      --metrics::global().subscriptions;
    detach(self, dm.source);
    note_activity(self);
  });
  return {
    [self](publish_atom, job_event& ev) {
      ++self->state.handled;
      auto rp = self->make_response_promise<uint64_t>();
      enqueue(self, {std::move(ev),
                     [rp](const caf::error& err, uint64_t seq,
                          const job_snapshot&) mutable {
                       if (err)
                         rp.deliver(err);
                       else
                         rp.deliver(seq);
                     }});
      note_activity(self);
      return rp;
    },
    [self](command_atom, const client_command& cmd, const connection_actor& who,
           const std::string& conn_id) {
      ++self->state.handled;
      handle_command(self, cmd, who, conn_id);
      note_activity(self);
    },
    [self](status_atom, const std::string&) -> caf::result<job_snapshot> {
      auto& st = self->state;
      ++st.handled;
      note_activity(self);
      if (st.snapshot.last_seq == 0)
        return job_not_found(st.snapshot.job_id);
      return st.snapshot;
    },
    [self](cancel_atom, const std::string&,
           const std::string& reason) -> caf::result<job_snapshot> {
      auto& st = self->state;
      ++st.handled;
      auto rp = self->make_response_promise<job_snapshot>();
      if (projected(st).last_seq == 0)
        rp.deliver(job_not_found(st.snapshot.job_id));
      else if (is_finished(projected(st).status))
        rp.deliver(finished_error(projected(st)));
      else
        cancel(self, reason,
               [rp](const caf::error& err, uint64_t,
                    const job_snapshot& snap) mutable {
                 if (err)
                   rp.deliver(err);
                 else
                   rp.deliver(snap);
               });
      note_activity(self);
      return rp;
    },
    [self](conns_atom, const std::string&) {
      auto& st = self->state;
      ++st.handled;
      std::vector<std::string> ids;
      ids.reserve(st.subscribers.size());
      for (auto& [addr, sub] : st.subscribers)
        ids.push_back(sub.connection_id);
      std::sort(ids.begin(), ids.end());
      note_activity(self);
      return ids;
    },
    [self](attach_atom, const std::string&,
           const worker_actor& worker) -> job_snapshot {
      auto& st = self->state;
      ++st.handled;
      if (st.workers.emplace(worker.address(), worker).second) {
        self->monitor(worker);
        ++st.grace_generation; // a pending grace timer is stale now
        st.grace_pending = false;
        // A cancel asked for before this worker came still stands.
        if (st.cancel_requested
            && projected(st).status == job_status::running)
          self->send(worker, cancel_atom::value, st.snapshot.job_id,
                     st.cancel_reason);
        log::info("worker attached",
                  {{"job_id", st.snapshot.job_id},
                   {"workers", std::to_string(st.workers.size())}});
        // Stored, so that a restart of the server knows to wait for it.
        if (!st.stored_worker_expected
            && projected(st).status == job_status::running)
          enqueue(self, queued_publish{.event = {},
                                       .reply = ignore_reply,
                                       .snapshot_only = true});
      }
      note_activity(self);
      return st.snapshot;
    },
    [self](detach_atom, const std::string&, const worker_actor& worker) {
      ++self->state.handled;
      if (self->state.workers.contains(worker.address()))
        self->demonitor(worker.address());
      detach(self, worker.address());
      note_activity(self);
    },
    [self](tick_atom) {
      ++self->state.handled;
      on_idle_tick(self);
    },
    [self](shed_atom) {
      ++self->state.handled;
      offer_to_leave(self);
    },
    [self](grace_atom, uint64_t generation) { on_grace(self, generation); },
    [self](recheck_atom) {
      ++self->state.handled;
      on_recheck(self);
      note_activity(self);
    },
    [self](replay_atom, const connection_actor& who) {
      // From the connection, not the directory: not counted as handled.
      auto& st = self->state;
      auto i = st.subscribers.find(who.address());
      if (i != st.subscribers.end() && i->second.replaying)
        replay_step(self, i->second, {});
    },
  };
}

} // namespace jobwire
