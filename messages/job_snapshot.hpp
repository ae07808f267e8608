#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "caf/meta/type_name.hpp"

namespace jobwire {

/// A job's lifecycle state.
enum class job_status : uint8_t {
  pending = 0,
  running,
  completed,
  failed,
  cancelled,
};

/// The wire name of `x`, e.g. `"running"`.
std::string_view to_string(job_status x);

/// Completed, failed or cancelled: no event follows.
constexpr bool is_finished(job_status x) {
  return x == job_status::completed || x == job_status::failed
         || x == job_status::cancelled;
}

/// The state of a job as `subscribed`, `job_status` and `GET /v1/jobs/{id}`
/// report it.
struct job_snapshot {
  std::string job_id;
  job_status status = job_status::pending;
  std::string stage;
  double progress = 0;
  std::string message;
  bool has_eta = false;
  double eta_seconds = 0;
  bool cancel_requested = false;
  uint64_t last_seq = 0;
  /// Unix milliseconds of the last stored event; 0 while pending.
  int64_t updated_at_ms = 0;
};

/// Whether its numbers are finite. CAF 0.17 never finishes serialising an
/// infinite double (`caf::detail::pack754` halves it forever), so a
/// snapshot that is not must reach neither a record nor a pipeline.
inline bool has_finite_numbers(const job_snapshot& x) {
  return std::isfinite(x.progress) && std::isfinite(x.eta_seconds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_snapshot& x) {
  return f(caf::meta::type_name("job_snapshot"), x.job_id, x.status, x.stage,
           x.progress, x.message, x.has_eta, x.eta_seconds, x.cancel_requested,
           x.last_seq, x.updated_at_ms);
}

} // namespace jobwire
