#include "actors/directory_actor.hpp"

#include <algorithm>
#include <chrono>

#include <malloc.h>

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

/// Job actors stopped before freed memory is handed back to the system.
constexpr size_t trim_after_stopped = 10'000;

using self_ptr = directory_actor::stateful_pointer<directory_state>;

/// The snapshot of a job not in memory, from its record: such a job has
/// all its state on disk, so a status needs no actor (and no room when
/// `--max-live-jobs` are in memory).
caf::expected<job_snapshot> stored_snapshot(self_ptr self,
                                            const std::string& job_id) {
  try {
    lmdb_txn txn{self->state.db->env, lmdb_txn::read_only};
    if (auto rec = self->state.db->store.job(txn, job_id))
      return std::move(rec->snapshot);
    return job_not_found(job_id);
  } catch (const std::exception& e) {
    log::error("cannot read job", {{"job_id", job_id}, {"reason", e.what()}});
    return caf::make_error(error_code::internal,
                           std::string{"the store failed"});
  }
}

/// Whether `job_id` has a record; false, with `readable` false, when it
/// has one that cannot be read.
bool stored(self_ptr self, const std::string& job_id, bool* readable) {
  auto snapshot = stored_snapshot(self, job_id);
  if (!snapshot && readable != nullptr
      && to_error_code(snapshot.error()) != error_code::job_not_found)
    *readable = false;
  return static_cast<bool>(snapshot);
}

/// Asks every job in memory to leave if idle, at most once a second: the
/// answers come back as `idle_atom`s, and a refused request is retried.
void shed_idle_jobs(self_ptr self) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (now - st.last_shed < std::chrono::seconds(1))
    return;
  st.last_shed = now;
  log::warn("too many jobs in memory: letting idle ones go",
            {{"live_jobs", std::to_string(st.jobs.size())},
             {"max_live_jobs", std::to_string(st.settings.max_live)}});
  for (auto& [id, entry] : st.jobs) {
    ++entry.routed;
    self->send(entry.handle, shed_atom::value);
  }
}

/// Why `find` returned no entry.
enum class miss {
  /// The job does not exist (or its record cannot be read).
  not_found,
  /// It is not in memory and `--max-live-jobs` are.
  full,
};

caf::error too_many_live_jobs(self_ptr self) {
  return caf::make_error(error_code::rate_limited,
                         "the server holds as many jobs in memory as it "
                         "may (--max-live-jobs="
                           + std::to_string(self->state.settings.max_live)
                           + ") and is letting idle ones go: retry in a "
                             "moment");
}

/// What a request for `job_id` that `find` missed is answered with.
caf::error miss_error(self_ptr self, miss why, const std::string& job_id) {
  return why == miss::full ? too_many_live_jobs(self) : job_not_found(job_id);
}

/// `err` as the reply to the client command `cmd`.
std::string error_reply(const caf::error& err, const client_command& cmd,
                        int64_t now_ms) {
  return encode_error(to_error_code(err), error_message(err), cmd.request_id,
                      cmd.job_id, now_ms);
}

/// The entry of `job_id`: in memory, activated from the store, or (with
/// `create`) a new job. Null when the job does not exist or cannot come
/// into memory, `why` says which.
job_entry* find(self_ptr self, const std::string& job_id, bool create,
                miss* why = nullptr, bool* readable = nullptr) {
  auto& jobs = self->state.jobs;
  if (auto i = jobs.find(job_id); i != jobs.end())
    return &i->second;
  auto missed = [why](miss x) -> job_entry* {
    if (why != nullptr)
      *why = x;
    return nullptr;
  };
  if (!create && !stored(self, job_id, readable))
    return missed(miss::not_found);
  if (jobs.size() >= self->state.settings.max_live) {
    shed_idle_jobs(self);
    return missed(miss::full);
  }
  auto& entry = jobs[job_id];
  entry.handle = self->spawn(job_impl, job_id, self->state.db,
                             self->state.registry,
                             caf::actor_cast<directory_actor>(self),
                             self->state.settings);
  self->monitor(entry.handle);
  return &entry;
}

/// Running jobs whose time to be looked at again comes before `until_ms`,
/// handed to their actors (which activate from the store) to end them or
/// set a new time; at most this many per look.
constexpr size_t due_batch = 1000;
/// Unreadable records remembered at most; beyond, they are logged again.
constexpr size_t max_unreadable = 100000;

void hand_over_due_running_jobs(self_ptr self, int64_t until_ms) {
  auto& st = self->state;
  std::vector<std::string> due;
  try {
    lmdb_txn txn{st.db->env, lmdb_txn::read_only};
    due = st.db->store.running_jobs_due(txn, until_ms, due_batch,
                                        st.unreadable);
  } catch (const std::exception& e) {
    log::error("cannot read the expiry index", {{"reason", e.what()}});
    return;
  }
  for (auto& id : due) {
    bool readable = true;
    auto why = miss::not_found;
    if (auto* job = find(self, id, false, &why, &readable)) {
      ++job->routed;
      self->send(job->handle, recheck_atom::value);
    } else if (why == miss::full) {
      return; // still due at the next look
    } else if (!readable && st.unreadable.size() < max_unreadable) {
      log::error("running job passed over until restart: its record "
                 "cannot be read",
                 {{"job_id", id}});
      st.unreadable.insert(id);
    }
  }
}

} // namespace

directory_actor::behavior_type
directory_impl(directory_actor::stateful_pointer<directory_state> self,
               std::shared_ptr<storage> db, registry_actor registry,
               job_settings settings) {
  self->state.db = std::move(db);
  self->state.registry = std::move(registry);
  self->state.settings = settings;
  self->set_down_handler([self](const caf::down_msg& dm) {
    auto& jobs = self->state.jobs;
    for (auto i = jobs.begin(); i != jobs.end(); ++i)
      if (i->second.handle.address() == dm.source) {
        log::error("job actor died", {{"job_id", i->first},
                                      {"reason", caf::to_string(dm.reason)}});
        jobs.erase(i);
        return;
      }
  });
  auto tick_every = [self] {
    // A quarter of the idle time: a job leaves at most 25% late.
    return std::max(std::chrono::milliseconds(100),
                    self->state.settings.idle / 4);
  };
  self->delayed_send(self, tick_every(), tick_atom::value);
  // Workers are attached in memory only, so after a restart none is. A job
  // that expected one is due within two windows of its last store; looking
  // that far ahead now starts its grace at the restart instead of at the
  // first tick after its time. Others due that soon just store a new time.
  hand_over_due_running_jobs(self,
                             unix_now_ms() + 2 * worker_window_ms(settings));
  // Job actors go with the directory (their state is on disk already).
  self->set_exit_handler([self](const caf::exit_msg& em) {
    for (auto& [id, entry] : self->state.jobs)
      self->send_exit(entry.handle, em.reason);
    self->state.jobs.clear();
    self->quit(em.reason);
  });
  return {
    [self](publish_atom, job_event& ev) -> caf::result<uint64_t> {
      auto* job = find(self, ev.job_id, true);
      if (job == nullptr)
        return too_many_live_jobs(self);
      ++job->routed;
      return self->delegate(job->handle, publish_atom::value, std::move(ev));
    },
    [self](command_atom, client_command& cmd, connection_actor& who,
           std::string& conn_id) {
      if (cmd.type == command_type::request_status
          && !self->state.jobs.contains(cmd.job_id)) {
        auto now = unix_now_ms();
        auto snapshot = stored_snapshot(self, cmd.job_id);
        auto text = snapshot
                      ? encode_job_status(*snapshot, cmd.request_id, now)
                      : error_reply(snapshot.error(), cmd, now);
        self->send(who, frame_atom::value, make_frame(std::move(text)));
        return;
      }
      auto why = miss::not_found;
      auto* job = find(self, cmd.job_id, cmd.type == command_type::subscribe,
                       &why);
      if (job != nullptr) {
        ++job->routed;
        self->send(job->handle, command_atom::value, std::move(cmd),
                   std::move(who), std::move(conn_id));
        return;
      }
      // No such job: answer as the job would. A job out of memory has no
      // subscriber either (one keeps it in).
      auto now = unix_now_ms();
      auto text = cmd.type == command_type::unsubscribe
                    ? encode_unsubscribed(cmd.job_id, cmd.request_id, now)
                    : error_reply(miss_error(self, why, cmd.job_id), cmd, now);
      self->send(who, frame_atom::value, make_frame(std::move(text)));
    },
    [self](status_atom, std::string& job_id) -> caf::result<job_snapshot> {
      auto& jobs = self->state.jobs;
      if (auto i = jobs.find(job_id); i != jobs.end()) {
        ++i->second.routed;
        return self->delegate(i->second.handle, status_atom::value,
                              std::move(job_id));
      }
      auto snapshot = stored_snapshot(self, job_id);
      if (!snapshot)
        return std::move(snapshot.error());
      return std::move(*snapshot);
    },
    [self](cancel_atom, std::string& job_id,
           std::string& reason) -> caf::result<job_snapshot> {
      auto why = miss::not_found;
      auto* job = find(self, job_id, false, &why);
      if (job == nullptr)
        return miss_error(self, why, job_id);
      ++job->routed;
      return self->delegate(job->handle, cancel_atom::value, std::move(job_id),
                            std::move(reason));
    },
    [self](conns_atom, const std::string& job_id)
      -> caf::result<std::vector<std::string>> {
      // The job index: a range read, no job actor needed.
      try {
        lmdb_txn txn{self->state.db->env, lmdb_txn::read_only};
        return self->state.db->store.followers(txn, job_id);
      } catch (const std::exception& e) {
        log::error("cannot read the job index",
                   {{"job_id", job_id}, {"reason", e.what()}});
        return caf::make_error(error_code::internal,
                               std::string{"the store failed"});
      }
    },
    [self](attach_atom, std::string& job_id,
           worker_actor& worker) -> caf::result<job_snapshot> {
      auto* job = find(self, job_id, true);
      if (job == nullptr)
        return too_many_live_jobs(self);
      ++job->routed;
      return self->delegate(job->handle, attach_atom::value, std::move(job_id),
                            std::move(worker));
    },
    [self](detach_atom, std::string& job_id, worker_actor& worker) {
      // A job out of memory has no worker attached: nothing to detach.
      if (auto* job = find(self, job_id, false)) {
        ++job->routed;
        self->send(job->handle, detach_atom::value, std::move(job_id),
                   std::move(worker));
      }
    },
    [self, tick_every](tick_atom) {
      // After a burst of jobs has left, glibc keeps their memory for the
      // next burst, inside the process: an audit saw 467 MB resident with
      // one job left of 150,000. The jobs stopped a tick ago are gone now.
      if (self->state.stopped_since_trim >= trim_after_stopped) {
        self->state.stopped_since_trim = 0;
        ::malloc_trim(0);
      }
      for (auto& [id, entry] : self->state.jobs) {
        ++entry.routed;
        self->send(entry.handle, tick_atom::value);
      }
      // Also with abandoning off: jobs with a worker have times (a lost
      // worker after a restart), and others clear what an earlier setting
      // left.
      hand_over_due_running_jobs(self, unix_now_ms());
      self->delayed_send(self, tick_every(), tick_atom::value);
    },
    [self](idle_atom, const std::string& job_id, uint64_t handled) {
      // Stop the job only if no routed message is still on its way to it.
      auto i = self->state.jobs.find(job_id);
      if (i != self->state.jobs.end() && i->second.routed == handled) {
        self->demonitor(i->second.handle.address());
        self->send_exit(i->second.handle, caf::exit_reason::user_shutdown);
        self->state.jobs.erase(i);
        ++self->state.stopped_since_trim;
      }
    },
  };
}

} // namespace jobwire
