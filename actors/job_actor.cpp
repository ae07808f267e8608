#include "actors/job_actor.hpp"

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

using self_ptr = job_actor::stateful_pointer<job_state>;

bool is_finished(job_status x) {
  return x == job_status::completed || x == job_status::failed
         || x == job_status::cancelled;
}

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

void send_frame(self_ptr self, const connection_actor& who, std::string text) {
  self->send(who, frame_atom::value, make_frame(std::move(text)));
}

/// Stamps, stores and fans out `ev`; returns its seq.
uint64_t store(self_ptr self, job_event ev) {
  auto& st = self->state;
  ev.job_id = st.snapshot.job_id;
  ev.seq = st.snapshot.last_seq + 1;
  ev.timestamp_ms = unix_now_ms();
  if (ev.type == event_type::progress_update) {
    auto estimate = st.eta.update(ev.stage, ev.progress, self->clock().now());
    if (!ev.has_eta && estimate) {
      ev.has_eta = true;
      ev.eta_seconds = *estimate;
    }
  }
  apply_to_snapshot(st.snapshot, ev);
  auto frame = make_frame(encode_event(ev));
  st.log.append(ev.seq, frame);
  if (!ev.event_id.empty())
    st.event_ids.emplace(ev.event_id, ev.seq);
  for (auto& [addr, sub] : st.subscribers) {
    self->send(sub.handle, frame_atom::value, frame);
    sub.last_sent = ev.seq;
  }
  if (log::enabled(spdlog::level::debug))
    log::debug("event stored", {{"job_id", ev.job_id},
                                {"type", to_string(ev.type)},
                                {"seq", std::to_string(ev.seq)},
                                {"correlation_id", ev.correlation_id}});
  return ev.seq;
}

caf::error finished_error(const job_state& st) {
  return caf::make_error(error_code::job_finished,
                         "job '" + st.snapshot.job_id + "' has already "
                           + std::string{to_string(st.snapshot.status)});
}

caf::error not_found_error(const job_state& st) {
  return caf::make_error(error_code::job_not_found,
                         "job '" + st.snapshot.job_id
                           + "' has no events yet");
}

/// Cancels with no worker attached: the job ends at once.
void cancel(self_ptr self, const std::string& reason) {
  auto& st = self->state;
  st.snapshot.cancel_requested = true;
  job_event ev;
  ev.type = event_type::job_cancelled;
  ev.reason = reason;
  store(self, std::move(ev));
  log::info("job cancelled", {{"job_id", st.snapshot.job_id}});
}

void subscribe(self_ptr self, const client_command& cmd,
               const connection_actor& who, const std::string& conn_id) {
  auto& st = self->state;
  auto last = st.log.last_seq();
  auto start = cmd.has_since_seq ? cmd.since_seq : last;
  auto [it, added] = st.subscribers.try_emplace(
    who.address(), job_subscriber{who, conn_id, 0});
  if (added)
    self->monitor(who);
  else if (start < it->second.last_sent)
    start = it->second.last_sent;
  send_frame(self, who,
             encode_subscribed(st.snapshot, cmd.request_id, unix_now_ms()));
  st.log.for_each_after(start, [&](uint64_t, const frame_ptr& frame) {
    self->send(who, frame_atom::value, frame);
  });
  it->second.last_sent = std::max(it->second.last_sent, last);
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
      if (st.subscribers.erase(who.address()) > 0)
        self->demonitor(who.address());
      send_frame(self, who,
                 encode_unsubscribed(cmd.job_id, cmd.request_id, now));
      break;
    case command_type::request_status:
      if (st.log.last_seq() == 0)
        reply_error(not_found_error(st));
      else
        send_frame(self, who,
                   encode_job_status(st.snapshot, cmd.request_id, now));
      break;
    case command_type::cancel_job:
      if (st.log.last_seq() == 0) {
        reply_error(not_found_error(st));
      } else if (is_finished(st.snapshot.status)) {
        reply_error(finished_error(st));
      } else {
        // The reply goes before the event the command causes.
        send_frame(self, who,
                   encode_cancel_requested(cmd.job_id, cmd.request_id, now));
        cancel(self, cmd.reason);
      }
      break;
    default:
      reply_error(caf::make_error(error_code::internal,
                                  "command not handled by a job"));
  }
}

/// Tells the registry when nothing here is worth keeping in memory.
void report_if_idle(self_ptr self) {
  auto& st = self->state;
  if (st.log.last_seq() == 0 && st.subscribers.empty())
    self->send(st.registry, idle_atom::value, st.snapshot.job_id, st.handled);
}

} // namespace

job_actor::behavior_type job_impl(job_actor::stateful_pointer<job_state> self,
                                  std::string job_id, registry_actor registry) {
  self->state.snapshot.job_id = std::move(job_id);
  self->state.registry = std::move(registry);
  self->set_down_handler([self](const caf::down_msg& dm) {
    self->state.subscribers.erase(dm.source);
    report_if_idle(self);
  });
  return {
    [self](publish_atom, job_event& ev) -> caf::result<uint64_t> {
      auto& st = self->state;
      ++st.handled;
      if (!ev.event_id.empty()) {
        if (auto i = st.event_ids.find(ev.event_id); i != st.event_ids.end())
          return i->second;
      }
      if (is_finished(st.snapshot.status))
        return finished_error(st);
      return store(self, std::move(ev));
    },
    [self](command_atom, const client_command& cmd, const connection_actor& who,
           const std::string& conn_id) {
      ++self->state.handled;
      handle_command(self, cmd, who, conn_id);
      report_if_idle(self);
    },
    [self](status_atom, const std::string&) -> caf::result<job_snapshot> {
      auto& st = self->state;
      ++st.handled;
      if (st.log.last_seq() == 0) {
        report_if_idle(self);
        return not_found_error(st);
      }
      return st.snapshot;
    },
    [self](cancel_atom, const std::string&,
           const std::string& reason) -> caf::result<job_snapshot> {
      auto& st = self->state;
      ++st.handled;
      if (st.log.last_seq() == 0) {
        report_if_idle(self);
        return not_found_error(st);
      }
      if (is_finished(st.snapshot.status))
        return finished_error(st);
      cancel(self, reason);
      return st.snapshot;
    },
    [self](conns_atom, const std::string&) {
      auto& st = self->state;
      ++st.handled;
      std::vector<std::string> ids;
      ids.reserve(st.subscribers.size());
      for (auto& [addr, sub] : st.subscribers)
        ids.push_back(sub.connection_id);
      std::sort(ids.begin(), ids.end());
      report_if_idle(self);
      return ids;
    },
  };
}

} // namespace jobwire
