#include "actors/connection_actor.hpp"

#include <optional>

#include "caf/all.hpp"

#include "messages/identifiers.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

using self_ptr = connection_actor::stateful_pointer<connection_state>;

void keep_ticking(self_ptr self);

/// How often a connection with replays waiting looks for room again: at
/// first, and at most.
constexpr auto replay_poll_first = std::chrono::milliseconds(10);
constexpr auto replay_poll_most = std::chrono::milliseconds(320);
void note_subscription_start(self_ptr self, const frame& f);

/// Sends a frame to the session now if its queue has room, else hands it
/// to the delivery actor, which retries.
void deliver(self_ptr self, frame_ptr frame) {
  auto& st = self->state;
  keep_ticking(self);
  if (frame->starts_subscription)
    note_subscription_start(self, *frame);
  auto sink = st.sink.lock();
  if (!sink || sink->closing())
    return; // gone or going: the record says what was written
  if (!st.parked
      && has_room(*sink, 1, frame->text.size(), st.settings->max_queue_bytes,
                  st.settings->max_queue_frames)) {
    sink->send(std::move(frame));
    return;
  }
  st.parked = true;
  self->send(st.delivery, park_atom::value,
             caf::actor_cast<connection_actor>(self), st.connection_id,
             st.sink, std::move(frame), ++st.parked_total);
}

void deliver(self_ptr self, const frame_batch& frames) {
  auto& st = self->state;
  keep_ticking(self);
  auto sink = st.sink.lock();
  if (!sink || sink->closing())
    return;
  size_t bytes = 0;
  for (auto& f : *frames)
    bytes += f->text.size();
  if (!st.parked
      && has_room(*sink, frames->size(), bytes, st.settings->max_queue_bytes,
                  st.settings->max_queue_frames)) {
    sink->send(frames);
    return;
  }
  // Not all of it fits: frame by frame, parking from the first that does
  // not.
  for (auto& f : *frames)
    deliver(self, f);
}

void send_text(self_ptr self, std::string text) {
  deliver(self, make_frame(std::move(text)));
}

/// Whether the session's queue has room for another step of a replay:
/// under half full, and nothing parked with the delivery actor.
bool room_for_replay(const connection_state& st, const frame_sink& sink) {
  return !st.parked && sink.queued_bytes() <= st.settings->max_queue_bytes / 2
         && sink.queued_frames() <= st.settings->max_queue_frames / 2;
}

void poll_replays(self_ptr self) {
  auto& st = self->state;
  if (st.replay_polling)
    return;
  st.replay_polling = true;
  auto& poll = st.replay_waiting->poll;
  poll = poll.count() == 0 ? replay_poll_first
                           : std::min(poll * 2, replay_poll_most);
  self->delayed_send(self, poll, replay_atom::value, std::string{});
}

/// A job has more stored events for this connection: asks for them now if
/// the queue has room, else once it has.
void ask_for_replay(self_ptr self, job_actor job) {
  auto& st = self->state;
  auto sink = st.sink.lock();
  if (!sink || sink->closing())
    return; // a resume replays what is left
  if (room_for_replay(st, *sink)) {
    self->send(job, replay_atom::value,
               caf::actor_cast<connection_actor>(self));
    return;
  }
  if (!st.replay_waiting) {
    st.replay_waiting = std::make_unique<replay_wait>();
    st.replay_waiting->since = std::chrono::steady_clock::now();
  }
  st.replay_waiting->jobs.push_back(std::move(job));
  poll_replays(self);
}

void resume_replays(self_ptr self) {
  auto& st = self->state;
  st.replay_polling = false;
  if (!st.replay_waiting)
    return;
  auto sink = st.sink.lock();
  if (!sink || sink->closing()) {
    st.replay_waiting.reset();
    return;
  }
  if (!room_for_replay(st, *sink)) {
    if (std::chrono::steady_clock::now() - st.replay_waiting->since
        >= st.settings->slow_consumer) {
      // It stopped reading: what the replay has not sent stays in the
      // store for its resume.
      ++metrics::global().slow_consumer_closes;
      log::warn("slow consumer while replaying; closing",
                {{"connection_id", st.connection_id}});
      st.replay_waiting.reset();
      sink->close(1013, "slow consumer");
      return;
    }
    poll_replays(self);
    return;
  }
  auto waiting = std::move(st.replay_waiting);
  for (auto& job : waiting->jobs)
    self->send(job, replay_atom::value,
               caf::actor_cast<connection_actor>(self));
}

/// Takes what the session has written into the followed jobs' last seqs.
void merge_written(connection_state& st,
                   const std::vector<followed_job>& written) {
  for (auto& w : written) {
    auto i = st.followed.find(w.job_id);
    if (i != st.followed.end() && i->second < w.last_sent) {
      i->second = w.last_sent;
      st.dirty = true;
    }
  }
}

/// Makes sure a tick comes: something was sent or changed, so the session's
/// progress and the record need looking after.
void keep_ticking(self_ptr self) {
  auto& st = self->state;
  if (st.ticking)
    return;
  st.ticking = true;
  self->delayed_send(self,
                     st.grant ? st.settings->token_check_interval
                              : st.settings->progress_interval,
                     tick_atom::value);
}

void reply_error(self_ptr self, const client_command& cmd, error_code code,
                 std::string_view message) {
  auto& st = self->state;
  // Past an operator's limit a client is broken or hostile: stop
  // answering it.
  if (st.error_budget_spent)
    return;
  if (st.error_budget
      && !st.error_budget->take(std::chrono::steady_clock::now())) {
    st.error_budget_spent = true;
    log::warn("too many refused commands; closing",
              {{"connection_id", st.connection_id}});
    if (auto sink = st.sink.lock())
      sink->close(1008, "too many errors");
    return;
  }
  log::debug("command refused", {{"connection_id", self->state.connection_id},
                                 {"job_id", cmd.job_id},
                                 {"request_id", cmd.request_id.text},
                                 {"code", to_string(code)},
                                 {"reason", message}});
  send_text(self, encode_error(code, message, cmd.request_id, cmd.job_id,
                               unix_now_ms()));
}

/// How a record goes to the registry.
enum class record_write {
  /// The subscriptions changed: stored at once (the job index follows).
  changed,
  /// Only what was sent and the last activity: stored within a second,
  /// gathered with other connections' progress.
  progress,
  /// The close: resumable until the record expires.
  closed,
};

/// Writes the connection's record.
void write_record(self_ptr self, record_write how = record_write::changed) {
  auto& st = self->state;
  if (st.taken_over)
    return;
  connection_record rec;
  rec.connection_id = st.connection_id;
  rec.created_at_ms = st.created_at_ms;
  rec.last_activity_ms = st.last_activity_ms;
  if (st.grant)
    rec.owner = st.grant->subject;
  if (how == record_write::closed) {
    // Being connected is activity: the TTL runs from the close.
    st.last_activity_ms = unix_now_ms();
    rec.last_activity_ms = st.last_activity_ms;
    rec.status = connection_status::closed;
    rec.expires_at_ms = st.last_activity_ms + st.settings->ttl_ms;
  }
  rec.jobs.reserve(st.followed.size());
  for (auto& [job_id, last_sent] : st.followed)
    rec.jobs.push_back({job_id, last_sent});
  if (how == record_write::progress)
    self->send(st.registry, conn_progress_atom::value, std::move(rec));
  else
    self->send(st.registry, conn_put_atom::value, std::move(rec));
  st.dirty = false;
  st.written_at = std::chrono::steady_clock::now();
}

/// A `subscribed` reply carries where its subscription starts: what came
/// before was not asked for, so the record says it was had, and a resume
/// after a crash does not send it. The subscribe's record is written here,
/// with that seq, rather than when the command came.
void note_subscription_start(self_ptr self, const frame& f) {
  auto& st = self->state;
  auto i = st.followed.find(f.job_id);
  if (i == st.followed.end())
    return; // unsubscribed meanwhile
  if (i->second < f.seq) {
    i->second = f.seq;
    st.dirty = true;
  }
  if (st.dirty)
    write_record(self);
}

/// Whether `cmd` may do `what` on its job: by the command's own token if
/// it has one, else by the upgrade's. Refusals are answered, audited and
/// counted.
/// Why `cmd` may not do `what` on its job, naming in `who` the subject
/// asking; nothing when it may.
std::optional<std::string> refusal(self_ptr self, const client_command& cmd,
                                   scope what, std::string& who) {
  auto& st = self->state;
  if (!st.settings->verifier)
    return std::nullopt;
  who = st.grant ? st.grant->subject : "";
  if (!cmd.token.empty()) {
    auto own = st.settings->verifier->verify(cmd.token, unix_now_ms());
    if (!own)
      return error_message(own.error());
    who = own->subject;
    if (own->allows(what, cmd.job_id))
      return std::nullopt;
  } else if (st.grant && st.grant->allows(what, cmd.job_id)) {
    return std::nullopt;
  }
  return "the token does not allow this on the job";
}

bool permitted(self_ptr self, const client_command& cmd, scope what) {
  auto& st = self->state;
  std::string who;
  auto why = refusal(self, cmd, what, who);
  if (!why)
    return true;
  audit_denial(st.connection_id, who, to_string(what),
               {"job_id", cmd.job_id}, *why);
  reply_error(self, cmd, error_code::unauthorized,
              "'" + std::string{to_string(what)} + "' on job '" + cmd.job_id
                + "' is not allowed: " + *why);
  return false;
}

void route(self_ptr self, client_command cmd) {
  self->send(self->state.directory, command_atom::value, std::move(cmd),
             caf::actor_cast<connection_actor>(self),
             self->state.connection_id);
}

/// Whether the connection follows `job_id` already or has room for it.
bool may_follow(const connection_state& st, const std::string& job_id) {
  return st.followed.contains(job_id)
         || st.followed.size() < st.settings->max_subscriptions;
}

/// Starts following `job_id`; false (and an error sent) past the limit.
bool follow(self_ptr self, const client_command& cmd, uint64_t last_sent) {
  auto& st = self->state;
  if (st.followed.contains(cmd.job_id))
    return true;
  if (!may_follow(st, cmd.job_id)) {
    reply_error(self, cmd, error_code::too_many_subscriptions,
                "a connection may follow at most "
                  + std::to_string(st.settings->max_subscriptions) + " jobs");
    return false;
  }
  st.followed.emplace(cmd.job_id, last_sent);
  return true;
}

/// Refuses a resume, audited and counted as any access denial.
void deny_resume(self_ptr self, const client_command& cmd,
                 const std::string& why) {
  auto& st = self->state;
  audit_denial(st.connection_id,
               st.grant ? st.grant->subject : std::string{}, "resume",
               {"resumed", cmd.connection_id}, why);
  reply_error(self, cmd, error_code::unauthorized, why);
}

void resume(self_ptr self, const client_command& cmd) {
  auto& st = self->state;
  if (!is_valid_connection_id(cmd.connection_id)) {
    reply_error(self, cmd, error_code::connection_not_found,
                "connection '" + cmd.connection_id
                  + "' is unknown or has expired");
    return;
  }
  // With access control, a connection is its token subject's: a token
  // without one can tell no user from another.
  std::string owner;
  if (st.settings->verifier) {
    owner = st.grant ? st.grant->subject : "";
    if (owner.empty()) {
      deny_resume(self, cmd, "the connection's token has no 'sub', which a "
                             "resume needs with access control on");
      return;
    }
  }
  // Await: commands after the resume wait for it, so they keep their order.
  self->request(st.registry, caf::infinite, resume_atom::value,
                cmd.connection_id, st.connection_id, owner)
    .await(
      [self, cmd](connection_record& rec) {
        auto& st = self->state;
        // Decided before `resumed` goes, so that it lists only the jobs
        // taken over; the new connection's token decides, not the old
        // one's. The refusals follow it.
        std::vector<client_command> taken;
        std::vector<client_command> refused;
        for (auto& j : rec.jobs) {
          client_command sub;
          sub.type = command_type::subscribe;
          sub.job_id = j.job_id;
          sub.has_since_seq = true;
          sub.since_seq = j.last_sent;
          std::string who;
          if (!refusal(self, sub, scope::view, who)
              && may_follow(st, sub.job_id)) {
            st.followed.emplace(sub.job_id, sub.since_seq);
            taken.push_back(std::move(sub));
          } else {
            refused.push_back(std::move(sub));
          }
        }
        std::vector<std::string> job_ids;
        for (auto& sub : taken)
          job_ids.push_back(sub.job_id);
        send_text(self, encode_resumed(rec.connection_id, job_ids,
                                       cmd.request_id, unix_now_ms()));
        log::info("connection resumed",
                  {{"connection_id", st.connection_id},
                   {"resumed", rec.connection_id}});
        // Each refusal answered with its reason, as a subscribe would be.
        for (auto& sub : refused)
          if (permitted(self, sub, scope::view))
            follow(self, sub, sub.since_seq);
        for (auto& sub : taken)
          route(self, std::move(sub));
        write_record(self);
      },
      [self, cmd](caf::error& err) {
        if (err == error_code::unauthorized)
          return deny_resume(self, cmd, error_message(err));
        reply_error(self, cmd, to_error_code(err), error_message(err));
      });
}

/// Remembers when a subscription allowed by the subscribe's own token (and
/// not by the upgrade's) must end: the token's expiry.
void note_borrowed(self_ptr self, const client_command& cmd) {
  auto& st = self->state;
  auto& verifier = st.settings->verifier;
  if (!verifier)
    return;
  if (cmd.token.empty() || (st.grant && st.grant->allows(scope::view,
                                                         cmd.job_id))) {
    if (st.borrowed)
      st.borrowed->erase(cmd.job_id);
    return;
  }
  auto own = verifier->verify(cmd.token, unix_now_ms());
  if (!own)
    return; // permitted() checked it a moment ago; it expired since
  if (!st.borrowed)
    st.borrowed = std::make_unique<std::unordered_map<std::string, int64_t>>();
  (*st.borrowed)[cmd.job_id] = own->expires_at_ms;
}

/// Ends the subscriptions whose tokens expired: an `error` says why, then
/// the job's `unsubscribed`, as if the client had asked.
void end_expired_subscriptions(self_ptr self) {
  auto& st = self->state;
  if (!st.borrowed)
    return;
  auto now = unix_now_ms();
  std::vector<std::string> expired;
  for (auto& [job_id, expires_at_ms] : *st.borrowed)
    if (expires_at_ms <= now)
      expired.push_back(job_id);
  for (auto& job_id : expired) {
    st.borrowed->erase(job_id);
    st.followed.erase(job_id);
    log::info("subscription token expired; unsubscribing",
              {{"connection_id", st.connection_id}, {"job_id", job_id}});
    client_command cmd;
    cmd.type = command_type::unsubscribe;
    cmd.job_id = job_id;
    send_text(self, encode_error(error_code::unauthorized,
                                 "the token of the subscription to job '"
                                   + job_id
                                   + "' has expired; subscribe again with "
                                     "a new one",
                                 {}, job_id, unix_now_ms()));
    route(self, std::move(cmd));
  }
  if (!expired.empty())
    write_record(self);
}

void handle(self_ptr self, client_command& cmd) {
  auto& st = self->state;
  if (!st.commands.take(std::chrono::steady_clock::now())) {
    reply_error(self, cmd, error_code::rate_limited,
                "more than "
                  + std::to_string(
                    static_cast<int>(st.settings->commands_per_second))
                  + " commands per second; slow down");
    return;
  }
  st.last_activity_ms = unix_now_ms();
  st.dirty = true;
  keep_ticking(self);
  switch (cmd.type) {
    case command_type::invalid:
      reply_error(self, cmd, cmd.error, cmd.error_message);
      break;
    case command_type::ping:
      send_text(self, encode_pong(cmd.request_id, unix_now_ms()));
      break;
    case command_type::resume:
      resume(self, cmd);
      break;
    case command_type::subscribe:
      if (!permitted(self, cmd, scope::view) || !follow(self, cmd, 0))
        break;
      note_borrowed(self, cmd);
      // The record is written once the job's `subscribed` reply says where
      // the subscription starts (note_subscription_start).
      route(self, std::move(cmd));
      break;
    case command_type::unsubscribe:
      if (st.borrowed)
        st.borrowed->erase(cmd.job_id);
      if (st.followed.erase(cmd.job_id) > 0)
        write_record(self);
      route(self, std::move(cmd));
      break;
    case command_type::cancel_job:
      if (permitted(self, cmd, scope::cancel))
        route(self, std::move(cmd));
      break;
    case command_type::request_status:
      if (permitted(self, cmd, scope::view))
        route(self, std::move(cmd));
      break;
  }
}

} // namespace

connection_actor::behavior_type
connection_impl(connection_actor::stateful_pointer<connection_state> self,
                std::weak_ptr<frame_sink> sink, std::string connection_id,
                int64_t created_at_ms, directory_actor directory,
                registry_actor registry, delivery_actor delivery,
                std::shared_ptr<const connection_settings> settings,
                std::optional<access_grant> grant) {
  auto& st = self->state;
  st.sink = std::move(sink);
  st.connection_id = std::move(connection_id);
  st.directory = std::move(directory);
  st.registry = std::move(registry);
  st.delivery = std::move(delivery);
  st.settings = std::move(settings);
  st.commands = token_bucket{st.settings->commands_per_second,
                             st.settings->command_burst};
  if (auto n = st.settings->max_errors; n > 0)
    st.error_budget = std::make_unique<token_bucket>(n / 60.0, n);
  if (grant)
    st.grant = std::make_unique<const access_grant>(std::move(*grant));
  // The session has sent `connected`. No record yet: most connections
  // subscribe at once, which writes it, and a connect costs no commit.
  st.created_at_ms = st.last_activity_ms = created_at_ms;
  self->send(st.registry, conn_open_atom::value, st.connection_id,
             st.grant ? st.grant->subject : std::string{});
  // A token's expiry is checked on the tick.
  if (st.grant)
    keep_ticking(self);
  log::info("connection opened", {{"connection_id", st.connection_id},
                                  {"subject", st.grant ? st.grant->subject
                                                       : std::string{}}});
  return {
    [self](command_atom, client_command& cmd) { handle(self, cmd); },
    [self](frame_atom, frame_ptr& frame) { deliver(self, std::move(frame)); },
    [self](frame_atom, const frame_batch& frames) { deliver(self, frames); },
    [self](sent_atom, uint64_t passed) {
      if (passed == self->state.parked_total)
        self->state.parked = false;
    },
    // One handler for both (each costs every connection its bytes).
    [self](replay_atom, const std::string& job_id) {
      if (job_id.empty()) {
        resume_replays(self); // the timer
        return;
      }
      // The job that replays is the sender.
      if (auto job = caf::actor_cast<job_actor>(self->current_sender()))
        ask_for_replay(self, std::move(job));
    },
    [self](tick_atom) {
      auto& st = self->state;
      st.ticking = false;
      auto sink = st.sink.lock();
      if (sink)
        merge_written(st, sink->written());
      // Frames went out since the last tick, or still may: tick on.
      auto busy = st.dirty || st.parked
                  || (sink && sink->queued_frames() > 0);
      // Checked on this tick rather than by a timer of its own: a pending
      // CAF 0.17 timer would hold the actor until the token's expiry.
      if (sink && st.grant && unix_now_ms() >= st.grant->expires_at_ms
          && !sink->closing()) {
        log::info("token expired; closing",
                  {{"connection_id", st.connection_id}});
        sink->close(1008, "token expired");
      }
      if (sink && !sink->closing())
        end_expired_subscriptions(self);
      // Without a token the tick comes once per progress interval; with
      // one, every token check.
      if (st.dirty
          && (!st.grant
              || std::chrono::steady_clock::now() - st.written_at
                   >= st.settings->progress_interval))
        write_record(self, record_write::progress);
      // With a token, its expiry is checked on the tick.
      if (busy || st.grant)
        keep_ticking(self);
    },
    [self](resume_atom) {
      auto& st = self->state;
      log::info("connection resumed elsewhere; closing",
                {{"connection_id", st.connection_id}});
      st.taken_over = true;
      st.followed.clear();
      // What the peer acknowledged lets the resume go on from there, not
      // from the last stored record; asked before the close, on the same
      // strand.
      auto answer = [registry = st.registry, id = st.connection_id](
                      std::vector<followed_job> acked) {
        caf::anon_send(registry, acked_atom::value, id, std::move(acked));
      };
      auto sink = st.sink.lock();
      if (!sink) {
        answer({});
        return;
      }
      sink->acknowledged(answer);
      sink->close(1000, "resumed by another connection");
    },
    [self](closed_atom, const std::vector<followed_job>& written) {
      log::info("connection closed",
                {{"connection_id", self->state.connection_id}});
      merge_written(self->state, written);
      write_record(self, record_write::closed);
      self->quit();
    },
  };
}

} // namespace jobwire
