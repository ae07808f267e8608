#include "actors/registry_actor.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "caf/all.hpp"

#include "actors/metrics.hpp"
#include "messages/error_code.hpp"
#include "messages/json_reader.hpp"
#include "messages/log.hpp"
#include "messages/store_refusal.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

using self_ptr = registry_actor::stateful_pointer<registry_state>;

/// How long a resume waits for a taken-over connection's session to say
/// what its peer acknowledged; without an answer it goes on from the stored
/// record.
constexpr auto takeover_answer_timeout = std::chrono::seconds(2);

/// A closed connection's jobs that were forgotten (`--job-retention`) and
/// began again under the same id since it closed: their seqs start again at
/// 1, so the resume takes all of them, not what follows the old last seq.
/// The old job cannot have gone while the connection followed it, so a job
/// whose first event is newer than the close is another one.
void forget_replaced_jobs(storage& db, const lmdb_txn& txn,
                          connection_record& rec) {
  for (auto& job : rec.jobs) {
    if (job.last_sent == 0)
      continue;
    std::optional<int64_t> began;
    db.store.events_after(txn, job.job_id, 0, 1,
                          [&](uint64_t, std::string_view json) {
                            began = event_time_ms(json);
                          });
    if (began && *began > rec.last_activity_ms)
      job.last_sent = 0;
  }
}

int64_t now_ms(self_ptr self) {
  return self->state.settings.clock();
}

caf::error refusal_error(store_refusal why) {
  return caf::make_error(to_error_code(why), std::string{message(why)});
}

/// Commits every pending write in one transaction, growing the map and
/// retrying when it is full.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty())
    return;
  std::vector<pending_write> batch;
  if (st.pending.size() <= st.settings.max_batch) {
    batch.swap(st.pending);
  } else {
    auto cut = st.pending.begin() + st.settings.max_batch;
    batch.assign(std::make_move_iterator(st.pending.begin()),
                 std::make_move_iterator(cut));
    st.pending.erase(st.pending.begin(), cut);
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
  std::vector<caf::error> results(batch.size());
  // Refused (for want of room, or as the commit failed); not applied again.
  std::vector<bool> refused(batch.size(), false);
  auto refusal = store_refusal::none;
  bool in_reserve = false;
  for (;;) {
    try {
      auto began = std::chrono::steady_clock::now();
      lmdb_txn txn{st.db->env, lmdb_txn::read_write};
      for (size_t i = 0; i < batch.size(); ++i)
        if (!refused[i])
          results[i] = batch[i].apply(txn);
      txn.commit();
      auto& m = metrics::global();
      m.commit.observe(std::chrono::steady_clock::now() - began);
      m.commit_writes += batch.size();
      // In the reserve, what does not free space was refused.
      if (std::find(refused.begin(), refused.end(), true) != refused.end())
        refusal = store_refusal::full;
      // The pages a commit in the reserve freed are all the room there
      // is, but LMDB lets a write reuse them only after one more commit. A
      // refused write commits nothing, so without this one every write
      // stayed refused until some other write happened to commit (none
      // may: an empty sweep commits nothing). In the reserve, it fits.
      // Only here: after every sweep of a full store, it made the store
      // take a write now and then between refusals.
      if (in_reserve) {
        try {
          lmdb_txn next{st.db->env, lmdb_txn::read_write};
          st.db->store.note_freed(next);
          next.commit();
        } catch (const std::exception& e) {
          log::error("cannot commit after freeing space",
                     {{"reason", e.what()}});
        }
      }
      break;
    } catch (const lmdb_error& e) {
      // The transaction is gone (unwound) before grow() needs it to be.
      if (e.map_full() && st.db->env.grow()) {
        log::warn("LMDB map full; grown",
                  {{"map_size", std::to_string(st.db->env.map_size())}});
        continue;
      }
      // At the maximum: what frees space goes on, in the reserve, so a
      // full store forgets its expired records and takes writes again.
      auto freeing = std::any_of(batch.begin(), batch.end(),
                                 [](auto& w) { return w.frees_space; });
      if (e.map_full() && freeing && !in_reserve
          && st.db->env.open_reserve()) {
        in_reserve = true;
        log::warn("LMDB map full; freeing space in the reserve",
                  {{"map_size", std::to_string(st.db->env.map_size())}});
        for (size_t i = 0; i < batch.size(); ++i)
          refused[i] = !batch[i].frees_space;
        continue;
      }
      refusal = e.map_full()       ? store_refusal::full
                : e.disk_refused() ? store_refusal::disk
                                   : store_refusal::failed;
      if (auto held_back = st.failure_log.admit())
        log::error("commit failed",
                   {{"reason", e.what()},
                    {"writes", std::to_string(batch.size())},
                    {"held_back", std::to_string(*held_back)}});
      std::fill(refused.begin(), refused.end(), true);
      break;
    } catch (const std::exception& e) {
      if (auto held_back = st.failure_log.admit())
        log::error("commit failed", {{"reason", e.what()},
                                     {"held_back", std::to_string(*held_back)}});
      refusal = store_refusal::failed;
      std::fill(refused.begin(), refused.end(), true);
      break;
    }
  }
  auto& m = metrics::global();
  // A refusal lasts until events are stored again (a smaller write may fit
  // where an event did not).
  auto stored_events = false;
  for (size_t i = 0; i < batch.size() && !stored_events; ++i)
    stored_events = batch[i].stores_events && !refused[i] && !results[i];
  // Only what a client asked for counts: a sweep that does not fit says
  // the store is full, but refuses no one (it is retried, smaller).
  uint64_t refused_for_clients = 0;
  for (size_t i = 0; i < batch.size(); ++i)
    if (refused[i]) {
      results[i] = refusal_error(refusal);
      if (!batch[i].frees_space)
        ++refused_for_clients;
    }
  if (refused_for_clients > 0 || stored_events)
    m.store_refusing = refused_for_clients > 0 ? refusal : store_refusal::none;
  m.refused_writes += refused_for_clients;
  if (in_reserve) {
    try {
      st.db->env.close_reserve();
    } catch (const std::exception& e) {
      log::error("cannot close the LMDB reserve", {{"reason", e.what()}});
    }
  }
  for (size_t i = 0; i < batch.size(); ++i)
    batch[i].done(results[i]);
}

/// Queues a write for the next commit. Everything already in the mailbox
/// is handled before the flush message, so it all shares one commit.
void enqueue(self_ptr self, pending_write w) {
  auto& st = self->state;
  st.pending.push_back(std::move(w));
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

/// Remembers the sender as the open connection `id`, for `resume`.
void note_open(self_ptr self, const std::string& id, const std::string& owner) {
  auto& st = self->state;
  st.open[id] = caf::actor_cast<connection_actor>(self->current_sender());
  if (!owner.empty())
    st.owners[id] = owner;
}

void forget_open(registry_state& st, const std::string& id) {
  st.open.erase(id);
  st.owners.erase(id);
}

/// Why `owner` may not resume the connection `id` owned by `actual`;
/// nothing when it may (an empty `owner`: access control is off).
std::optional<caf::error> foreign(const std::string& id,
                                  const std::string& owner,
                                  const std::string& actual) {
  if (owner.empty() || owner == actual)
    return std::nullopt;
  return caf::make_error(error_code::unauthorized,
                         "connection '" + id
                           + "' was opened with another token subject "
                             "('sub'); only that one may resume it");
}

/// Queues the write of connection records as one pending write.
void store_connections(self_ptr self, std::vector<connection_record> recs) {
  // A failure names one record and counts several.
  auto one = recs.size() == 1;
  std::string key = one ? "connection_id" : "count";
  auto value = one ? recs.front().connection_id : std::to_string(recs.size());
  auto db = self->state.db;
  enqueue(self, {[db, recs = std::move(recs)](lmdb_txn& txn) {
                   for (auto& rec : recs)
                     db->store.put_connection(txn, rec);
                   return caf::error{};
                 },
                 [key, value](const caf::error& err) {
                   if (err)
                     log::warn("connection records not written",
                               {{key, value},
                                {"reason", error_message(err)}});
                 }});
}

/// Queues the write of a connection's record; an open one is known for
/// `resume` from then on.
void put_connection(self_ptr self, connection_record rec) {
  auto& st = self->state;
  if (rec.status == connection_status::open)
    note_open(self, rec.connection_id, rec.owner);
  else
    forget_open(st, rec.connection_id);
  std::vector<connection_record> one;
  one.push_back(std::move(rec));
  store_connections(self, std::move(one));
}

/// Queues the progress records gathered as one write.
void write_progress(self_ptr self) {
  auto& st = self->state;
  if (st.progress.empty())
    return;
  std::vector<connection_record> recs;
  recs.reserve(st.progress.size());
  for (auto& [id, rec] : st.progress)
    recs.push_back(std::move(rec));
  st.progress.clear();
  store_connections(self, std::move(recs));
}

void schedule_sweep(self_ptr self) {
  self->delayed_send(self, self->state.settings.sweep_interval,
                     sweep_atom::value);
}

/// After a sweep of at most `limit` records: on at once while records are
/// due; when the store refused it, again at once with half as many, and
/// after a refusal of a single record, at the next sweep interval (room
/// comes back as readers release old pages), warning once.
void on_swept(self_ptr self, const caf::error& err, size_t removed,
              size_t limit) {
  auto& st = self->state;
  auto& m = metrics::global();
  if (err) {
    ++m.expiry_refusals;
    if (limit > 1) {
      st.sweep_limit = limit / 2;
      self->send(self, sweep_atom::value);
      return;
    }
    if (st.sweep_refusals++ == 0)
      log::warn("expired records cannot be removed: the store refuses even "
                "one removal; retrying every sweep",
                {{"reason", error_message(err)}});
    schedule_sweep(self);
    return;
  }
  st.sweep_refusals = 0;
  m.expired_records += removed;
  if (removed > 0)
    log::debug("expired records removed", {{"count", std::to_string(removed)}});
  // A full batch means more are due: go on at once, behind whatever else
  // is waiting, with more at a time again.
  if (removed >= limit) {
    st.sweep_limit = std::min(limit * 2, st.settings.sweep_batch);
    self->send(self, sweep_atom::value);
  } else {
    schedule_sweep(self);
  }
}

} // namespace

registry_actor::behavior_type
registry_impl(registry_actor::stateful_pointer<registry_state> self,
              std::shared_ptr<storage> db, registry_settings settings) {
  auto& st = self->state;
  st.db = std::move(db);
  st.settings = std::move(settings);
  if (!st.settings.clock)
    st.settings.clock = unix_now_ms;
  st.settings.sweep_batch = std::max<size_t>(st.settings.sweep_batch, 1);
  st.sweep_limit = st.settings.sweep_batch;
  // After a crash no connection is open any more. The first write, so it
  // comes before any other and, like them, grows a full map and retries.
  auto closed = std::make_shared<size_t>(0);
  enqueue(self, {[db = st.db, closed, now = now_ms(self),
                  ttl = st.settings.connection_ttl_ms](lmdb_txn& txn) {
                   *closed = db->store.close_open_connections(txn, now, ttl);
                   return caf::error{};
                 },
                 [closed](const caf::error& err) {
                   if (err)
                     log::error("cannot close stale connection records",
                                {{"reason", error_message(err)}});
                   else if (*closed > 0)
                     log::info("closed connection records left open",
                               {{"count", std::to_string(*closed)}});
                 }});
  // Commit what has gathered before going, also on a shutdown.
  self->set_exit_handler([self](const caf::exit_msg& em) {
    write_progress(self);
    while (!self->state.pending.empty())
      flush(self);
    self->quit(em.reason);
  });
  schedule_sweep(self);
  return {
    [self](store_atom, job_record& rec, std::vector<stored_event>& events) {
      auto rp = self->make_response_promise<uint64_t>();
      if (!has_finite_numbers(rec.snapshot)) {
        // Refused alone: put_job would throw and fail the whole commit.
        log::error("job not stored: a number is not finite",
                   {{"job_id", rec.snapshot.job_id}});
        rp.deliver(caf::make_error(error_code::internal,
                                   "the job has a number that is not finite"));
        return rp;
      }
      auto last = events.empty() ? rec.snapshot.last_seq : events.back().seq;
      auto db = self->state.db;
      auto stores_events = !events.empty();
      enqueue(self,
              {[db, rec = std::move(rec),
                events = std::move(events)](lmdb_txn& txn) {
                 for (auto& ev : events)
                   db->store.put_event(txn, rec.snapshot.job_id, ev.seq,
                                       ev.json, ev.event_id);
                 db->store.put_job(txn, rec);
                 return caf::error{};
               },
               [rp, last](const caf::error& err) mutable {
                 if (err)
                   rp.deliver(err);
                 else
                   rp.deliver(last);
               },
               false, stores_events});
      return rp;
    },
    [self](conn_put_atom, connection_record& rec) {
      auto& st = self->state;
      if (st.taken_over.contains(rec.connection_id))
        return; // sent before the connection learnt it was taken over
      // Progress gathered earlier is older than this record.
      st.progress.erase(rec.connection_id);
      put_connection(self, std::move(rec));
    },
    [self](conn_progress_atom, connection_record& rec) {
      auto& st = self->state;
      if (st.taken_over.contains(rec.connection_id))
        return;
      note_open(self, rec.connection_id, rec.owner);
      auto id = rec.connection_id;
      st.progress.insert_or_assign(std::move(id), std::move(rec));
      if (!st.progress_scheduled) {
        st.progress_scheduled = true;
        self->delayed_send(self, st.settings.progress_interval,
                           progress_atom::value);
      }
    },
    [self](progress_atom) {
      self->state.progress_scheduled = false;
      write_progress(self);
    },
    [self](conn_open_atom, std::string& id, std::string& owner) {
      if (!self->state.taken_over.contains(id))
        note_open(self, id, owner);
    },
    [self](resume_atom, std::string& earlier, std::string& current,
           std::string& owner) {
      auto rp = self->make_response_promise<connection_record>();
      // Before anything is taken: its own progress and record stay.
      if (earlier == current) {
        rp.deliver(caf::make_error(error_code::connection_not_found,
                                   "connection '" + earlier
                                     + "' is this one; resume it from a new "
                                       "connection"));
        return rp;
      }
      auto db = self->state.db;
      auto now = now_ms(self);
      auto found = std::make_shared<connection_record>();
      // Progress not written yet is newer than what is stored.
      std::optional<connection_record> newer;
      if (auto i = self->state.progress.find(earlier);
          i != self->state.progress.end()) {
        if (auto err = foreign(earlier, owner, i->second.owner)) {
          rp.deliver(std::move(*err));
          return rp;
        }
        newer = std::move(i->second);
        self->state.progress.erase(i);
      }
      enqueue(self,
              {[db, now, earlier, owner, found,
                newer = std::move(newer)](lmdb_txn& txn) {
                 auto rec = newer ? newer : db->store.connection(txn, earlier);
                 if (!rec
                     || (rec->expires_at_ms != 0 && rec->expires_at_ms <= now))
                   return caf::make_error(error_code::connection_not_found,
                                          "connection '" + earlier
                                            + "' is unknown or has expired");
                 if (auto err = foreign(earlier, owner, rec->owner))
                   return std::move(*err);
                 db->store.delete_connection(txn, earlier);
                 if (rec->status == connection_status::closed)
                   forget_replaced_jobs(*db, txn, *rec);
                 *found = std::move(*rec);
                 return caf::error{};
               },
               [self, rp, found, earlier,
                owner](const caf::error& err) mutable {
                 auto& st = self->state;
                 auto i = st.open.find(earlier);
                 if (err) {
                   // Open but not stored yet: nothing to take over but the
                   // connection itself.
                   if (i == st.open.end()
                       || err != error_code::connection_not_found) {
                     rp.deliver(err);
                     return;
                   }
                   auto o = st.owners.find(earlier);
                   if (auto bad = foreign(earlier, owner,
                                          o == st.owners.end() ? std::string{}
                                                               : o->second)) {
                     rp.deliver(std::move(*bad));
                     return;
                   }
                   found->connection_id = earlier;
                 }
                 if (i == st.open.end()) {
                   rp.deliver(std::move(*found));
                   return;
                 }
                 // Still open (half-open TCP, most likely): it must go.
                 // What its peer acknowledged, when that is all it was
                 // sent, is exact; the stored record may be up to
                 // --progress-seconds older.
                 auto old = i->second;
                 forget_open(st, earlier);
                 st.taken_over.insert(earlier);
                 st.taken_over_order.push_back(earlier);
                 if (st.taken_over_order.size() > 4096) {
                   st.taken_over.erase(st.taken_over_order.front());
                   st.taken_over_order.pop_front();
                 }
                 if (!old) {
                   rp.deliver(std::move(*found));
                   return;
                 }
                 self->send(old, resume_atom::value);
                 st.takeovers.insert_or_assign(
                   earlier, registry_state::pending_takeover{rp,
                                                             std::move(*found)});
                 self->delayed_send(self, takeover_answer_timeout,
                                    acked_atom::value, earlier,
                                    std::vector<followed_job>{});
               }});
      return rp;
    },
    [self](acked_atom, const std::string& id,
           const std::vector<followed_job>& acked) {
      auto& st = self->state;
      auto i = st.takeovers.find(id);
      if (i == st.takeovers.end())
        return; // answered already
      auto& rec = i->second.record;
      for (auto& job : rec.jobs)
        for (auto& a : acked)
          if (a.job_id == job.job_id)
            job.last_sent = std::max(job.last_sent, a.last_sent);
      i->second.reply.deliver(std::move(rec));
      st.takeovers.erase(i);
    },
    [self](flush_atom) { flush(self); },
    [self](sweep_atom) {
      auto db = self->state.db;
      auto now = now_ms(self);
      auto limit = self->state.sweep_limit;
      auto removed = std::make_shared<size_t>(0);
      enqueue(self, {[db, now, limit, removed](lmdb_txn& txn) {
                       *removed = db->store.sweep(txn, now, limit);
                       return caf::error{};
                     },
                     [self, removed, limit](const caf::error& err) {
                       on_swept(self, err, *removed, limit);
                     },
                     true});
    },
  };
}

} // namespace jobwire
