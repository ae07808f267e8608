#include "persistence/registry_store.hpp"

#include <stdexcept>

#include "persistence/key_codec.hpp"
#include "persistence/record_codec.hpp"

namespace jobwire {

namespace {

constexpr std::string_view format_key = "format";
constexpr std::string_view format_tag = "jobwire-registry-1";
/// Set once every running job has an abandon time (see the constructor).
constexpr std::string_view abandon_times_key = "abandon-times";
/// Written after a commit that freed space in the reserve (`note_freed`).
constexpr std::string_view freed_by_key = "freed-by";
constexpr char connection_kind = 'c';
constexpr char job_kind = 'j';
/// A running job's entry: when its job actor looks at it again (abandoned?
/// its worker lost?). The sweep leaves it; the directory hands it over
/// (`running_jobs_due`).
constexpr char running_kind = 'a';

char expiry_kind(const job_record& x) {
  return is_finished(x.snapshot.status) ? job_kind : running_kind;
}

std::string expiry_key(int64_t at, char kind, std::string_view id) {
  std::string out;
  append_be64(out, static_cast<uint64_t>(at));
  out += kind;
  out += id;
  return out;
}

MDB_dbi open_db(MDB_txn* txn, const char* name, unsigned flags) {
  MDB_dbi dbi = 0;
  check(mdb_dbi_open(txn, name, flags | MDB_CREATE, &dbi), "mdb_dbi_open");
  return dbi;
}

} // namespace

registry_store::registry_store(lmdb_env& env) : env_(env) {
  lmdb_txn txn{env_, lmdb_txn::read_write};
  // An environment with unnamed data in its main database is someone else's.
  MDB_dbi main_db = 0;
  check(mdb_dbi_open(txn.get(), nullptr, 0, &main_db), "mdb_dbi_open");
  meta_ = open_db(txn.get(), "meta", 0);
  auto tag = txn.get(meta_, format_key);
  if (!tag) {
    MDB_stat stat;
    check(mdb_stat(txn.get(), main_db, &stat), "mdb_stat");
    // A fresh environment holds only the "meta" entry we just created.
    if (stat.ms_entries > 1)
      throw std::runtime_error("the data directory holds an LMDB environment "
                               "that is not jobwire's");
    txn.put(meta_, format_key, format_tag);
  } else if (*tag != format_tag) {
    throw std::runtime_error("the data directory has format '"
                             + std::string{*tag} + "', expected '"
                             + std::string{format_tag} + "'");
  }
  connections_ = open_db(txn.get(), "connections", 0);
  job_index_ = open_db(txn.get(), "job_index", MDB_DUPSORT);
  jobs_ = open_db(txn.get(), "jobs", 0);
  events_ = open_db(txn.get(), "events", 0);
  event_ids_ = open_db(txn.get(), "event_ids", 0);
  expiry_ = open_db(txn.get(), "expiry", 0);
  if (!txn.get(meta_, abandon_times_key)) {
    give_running_jobs_abandon_times(txn);
    txn.put(meta_, abandon_times_key, "1");
  }
  txn.commit();
}

void registry_store::give_running_jobs_abandon_times(lmdb_txn& txn) {
  // Stored before running jobs had abandon times: each gets one that is
  // due at once, and its job actor then ends it (silent for long enough,
  // no worker) or stores a proper time. Undecodable records are left for
  // whoever reads them to report.
  std::vector<job_record> running;
  txn.scan(jobs_, {}, {}, [&](std::string_view, std::string_view v) {
    job_record x;
    if (decode_job(v, x) && expiry_kind(x) == running_kind
        && x.expires_at_ms == 0)
      running.push_back(std::move(x));
    return true;
  });
  constexpr int64_t at_once = 1; // any time in the past; 0 means none
  for (auto& x : running) {
    x.expires_at_ms = at_once;
    put_job(txn, x);
  }
}

void registry_store::note_freed(lmdb_txn& txn) {
  MDB_envinfo info;
  mdb_env_info(env_.get(), &info);
  std::string be;
  append_be64(be, static_cast<uint64_t>(info.me_last_txnid));
  txn.put(meta_, freed_by_key, be);
}

// -- jobs ---------------------------------------------------------------------

std::optional<job_record> registry_store::job(const lmdb_txn& txn,
                                              std::string_view job_id) const {
  auto bytes = txn.get(jobs_, job_id);
  if (!bytes)
    return std::nullopt;
  job_record x;
  if (decode_job(*bytes, x))
    return x;
  throw std::runtime_error("damaged job record for '" + std::string{job_id}
                           + "'");
}

void registry_store::put_job(lmdb_txn& txn, const job_record& x) {
  if (!has_finite_numbers(x.snapshot))
    throw std::invalid_argument("job '" + x.snapshot.job_id
                                + "' has a number that is not finite");
  auto copy = x;
  auto old = job(txn, x.snapshot.job_id);
  auto new_kind = expiry_kind(x);
  move_expiry(txn, x.snapshot.job_id, old ? expiry_kind(*old) : new_kind,
              old ? old->expires_at_ms : 0, new_kind, x.expires_at_ms);
  txn.put(jobs_, x.snapshot.job_id, encode_record(copy));
}

void registry_store::delete_job(lmdb_txn& txn, std::string_view job_id) {
  txn.del(jobs_, job_id);
  std::string prefix{job_id};
  prefix += '\0';
  // Collect first: deleting under an open cursor would move it.
  std::vector<std::string> keys;
  for (auto dbi : {events_, event_ids_}) {
    keys.clear();
    txn.scan(dbi, prefix, prefix, [&](std::string_view k, std::string_view) {
      keys.emplace_back(k);
      return true;
    });
    for (auto& k : keys)
      txn.del(dbi, k);
  }
  txn.del(job_index_, job_id);
}

// -- events -------------------------------------------------------------------

void registry_store::put_event(lmdb_txn& txn, std::string_view job_id,
                               uint64_t seq, std::string_view json,
                               std::string_view event_id) {
  txn.put(events_, event_key(job_id, seq), json, MDB_NOOVERWRITE);
  if (!event_id.empty()) {
    std::string be;
    append_be64(be, seq);
    txn.put(event_ids_, compound_key(job_id, event_id), be);
  }
}

void registry_store::events_after(
  const lmdb_txn& txn, std::string_view job_id, uint64_t after, size_t limit,
  const std::function<void(uint64_t, std::string_view)>& f,
  size_t max_bytes) const {
  std::string prefix{job_id};
  prefix += '\0';
  size_t n = 0;
  size_t bytes = 0;
  txn.scan(events_, prefix, event_key(job_id, after + 1),
           [&](std::string_view k, std::string_view v) {
             f(read_be64(k.substr(prefix.size())), v);
             bytes += v.size();
             return ++n < limit && bytes < max_bytes;
           });
}

std::optional<uint64_t>
registry_store::event_seq(const lmdb_txn& txn, std::string_view job_id,
                          std::string_view event_id) const {
  auto v = txn.get(event_ids_, compound_key(job_id, event_id));
  if (!v)
    return std::nullopt;
  return read_be64(*v);
}

// -- connections ----------------------------------------------------------------

std::optional<connection_record>
registry_store::connection(const lmdb_txn& txn,
                           std::string_view connection_id) const {
  auto bytes = txn.get(connections_, connection_id);
  if (!bytes)
    return std::nullopt;
  connection_record x;
  if (!decode_connection(*bytes, x))
    throw std::runtime_error("damaged connection record for '"
                             + std::string{connection_id} + "'");
  return x;
}

void registry_store::put_connection(lmdb_txn& txn,
                                    const connection_record& x) {
  auto old = connection(txn, x.connection_id);
  auto follows = [](const connection_record& rec, std::string_view job_id) {
    for (auto& j : rec.jobs)
      if (j.job_id == job_id)
        return true;
    return false;
  };
  // Only open connections stand in the job index.
  bool open = x.status == connection_status::open;
  if (old && old->status == connection_status::open)
    for (auto& j : old->jobs)
      if (!open || !follows(x, j.job_id))
        remove_follower(txn, j.job_id, x.connection_id);
  if (open)
    for (auto& j : x.jobs)
      add_follower(txn, j.job_id, x.connection_id);
  move_expiry(txn, x.connection_id, connection_kind,
              old ? old->expires_at_ms : 0, connection_kind, x.expires_at_ms);
  auto copy = x;
  txn.put(connections_, x.connection_id, encode_record(copy));
}

void registry_store::delete_connection(lmdb_txn& txn,
                                       std::string_view connection_id) {
  auto old = connection(txn, connection_id);
  if (!old)
    return;
  for (auto& j : old->jobs)
    remove_follower(txn, j.job_id, connection_id);
  move_expiry(txn, connection_id, connection_kind, old->expires_at_ms,
              connection_kind, 0);
  txn.del(connections_, connection_id);
}

void registry_store::add_follower(lmdb_txn& txn, std::string_view job_id,
                                  std::string_view connection_id) {
  txn.put(job_index_, job_id, connection_id, MDB_NODUPDATA);
}

void registry_store::remove_follower(lmdb_txn& txn, std::string_view job_id,
                                     std::string_view connection_id) {
  txn.del(job_index_, job_id, connection_id);
}

std::vector<std::string>
registry_store::followers(const lmdb_txn& txn, std::string_view job_id) const {
  std::vector<std::string> out;
  txn.for_each_dup(job_index_, job_id,
                   [&](std::string_view v) { out.emplace_back(v); });
  return out;
}

registry_store::counts registry_store::stored(const lmdb_txn& txn) const {
  counts result;
  result.jobs = txn.entries(jobs_);
  result.events = txn.entries(events_);
  result.connections = txn.entries(connections_);
  return result;
}

// -- expiry ---------------------------------------------------------------------

void registry_store::move_expiry(lmdb_txn& txn, std::string_view id,
                                 char old_kind, int64_t old_at, char new_kind,
                                 int64_t new_at) {
  if (old_at == new_at && old_kind == new_kind)
    return;
  if (old_at != 0)
    txn.del(expiry_, expiry_key(old_at, old_kind, id));
  if (new_at != 0)
    txn.put(expiry_, expiry_key(new_at, new_kind, id), {});
}

template <class F>
void registry_store::for_each_due(const lmdb_txn& txn, int64_t now_ms,
                                  F&& f) const {
  txn.scan(expiry_, {}, {}, [&](std::string_view k, std::string_view) {
    return static_cast<int64_t>(read_be64(k)) <= now_ms
           && f(k[8], k.substr(9));
  });
}

size_t registry_store::sweep(lmdb_txn& txn, int64_t now_ms, size_t limit) {
  std::vector<std::pair<char, std::string>> due;
  for_each_due(txn, now_ms, [&](char kind, std::string_view id) {
    if (due.size() >= limit)
      return false;
    // A running job is not removed: its job actor ends it first.
    if (kind != running_kind)
      due.emplace_back(kind, id);
    return true;
  });
  for (auto& [kind, id] : due) {
    if (kind == connection_kind) {
      delete_connection(txn, id);
    } else {
      auto old = job(txn, id);
      if (old)
        move_expiry(txn, id, job_kind, old->expires_at_ms, job_kind, 0);
      delete_job(txn, id);
    }
  }
  return due.size();
}

std::vector<std::string>
registry_store::running_jobs_due(const lmdb_txn& txn, int64_t now_ms,
                                 size_t limit,
                                 const std::unordered_set<std::string>& skip)
  const {
  std::vector<std::string> out;
  // Expired records the sweep has not removed yet come first; behind a
  // backlog of them the running jobs wait rather than every look reading
  // the whole backlog.
  size_t visited = 0;
  for_each_due(txn, now_ms, [&](char kind, std::string_view id) {
    if (out.size() >= limit || ++visited > 16 * limit)
      return false;
    if (kind == running_kind
        && (skip.empty() || !skip.contains(std::string{id})))
      out.emplace_back(id);
    return true;
  });
  return out;
}

size_t registry_store::close_open_connections(lmdb_txn& txn, int64_t now_ms,
                                              int64_t ttl_ms) {
  std::vector<connection_record> open;
  txn.scan(connections_, {}, {}, [&](std::string_view, std::string_view v) {
    connection_record x;
    if (decode_connection(v, x) && x.status == connection_status::open)
      open.push_back(std::move(x));
    return true;
  });
  for (auto& x : open) {
    // It was open until the crash, which we cannot date: count from now.
    x.status = connection_status::closed;
    x.last_activity_ms = now_ms;
    x.expires_at_ms = now_ms + ttl_ms;
    put_connection(txn, x);
  }
  return open.size();
}

} // namespace jobwire
