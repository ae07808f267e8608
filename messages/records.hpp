#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"

#include "messages/job_snapshot.hpp"

namespace jobwire {

/// A job a connection follows, and the last seq it was sent.
struct followed_job {
  std::string job_id;
  uint64_t last_sent = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, followed_job& x) {
  return f(caf::meta::type_name("followed_job"), x.job_id, x.last_sent);
}

/// Whether a connection's session is still there.
enum class connection_status : uint8_t { open = 0, closed = 1 };

/// What the registry keeps of a connection, so it can be resumed.
struct connection_record {
  std::string connection_id;
  int64_t created_at_ms = 0;
  int64_t last_activity_ms = 0;
  connection_status status = connection_status::open;
  /// 0 while open: an open connection never expires.
  int64_t expires_at_ms = 0;
  std::vector<followed_job> jobs;
  /// With access control on, the `sub` of the token the connection was
  /// opened with: only a token of the same `sub` may resume it.
  std::string owner;
};

/// The fields of a connection record, in their stored order; a record
/// stored by an earlier version holds the first `fields` of them.
struct connection_record_layout {
  /// Fields of the layout written today.
  static constexpr int current = 7;

  connection_record& record;
  int fields = current;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f,
                                        connection_record_layout& x) {
  auto& r = x.record;
  auto name = caf::meta::type_name("connection_record");
  if (x.fields == 6) // before owners were stored
    return f(name, r.connection_id, r.created_at_ms, r.last_activity_ms,
             r.status, r.expires_at_ms, r.jobs);
  return f(name, r.connection_id, r.created_at_ms, r.last_activity_ms,
           r.status, r.expires_at_ms, r.jobs, r.owner);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, connection_record& x) {
  connection_record_layout all{x};
  return inspect(f, all);
}

/// What the registry keeps of a job.
struct job_record {
  job_snapshot snapshot;
  /// A finished job: when it and its events go. A running one: when the
  /// directory hands it to its job actor to decide whether it is abandoned
  /// or its worker lost (0: never).
  int64_t expires_at_ms = 0;
  /// With `snapshot.cancel_requested`: the reason, for workers that attach
  /// after a restart.
  std::string cancel_reason;
  /// A worker was attached, or awaited back (its grace running), when this
  /// was stored: after a restart without it, the job waits `--worker-grace`
  /// for one to attach.
  bool worker_expected = false;
};

/// The fields of a job record, in their stored order; a record stored by
/// an earlier version holds the first `fields` of them (see `decode_job`).
struct job_record_layout {
  /// Fields of the layout written today.
  static constexpr int current = 4;

  job_record& record;
  int fields = current;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_record_layout& x) {
  auto& r = x.record;
  auto name = caf::meta::type_name("job_record");
  switch (x.fields) {
    case 2: // before cancel reasons were stored
      return f(name, r.snapshot, r.expires_at_ms);
    case 3: // before worker_expected
      return f(name, r.snapshot, r.expires_at_ms, r.cancel_reason);
    default:
      return f(name, r.snapshot, r.expires_at_ms, r.cancel_reason,
               r.worker_expected);
  }
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_record& x) {
  job_record_layout all{x};
  return inspect(f, all);
}

} // namespace jobwire
