#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "caf/meta/type_name.hpp"

namespace jobwire {

/// The five job events of PROTOCOL.md.
enum class event_type : uint8_t {
  progress_update = 0,
  stage_complete,
  job_complete,
  job_failed,
  job_cancelled,
};

/// The wire name of `x`, e.g. `"progress_update"`.
std::string_view to_string(event_type x);

/// Parses a wire name; returns false for anything else.
bool from_string(std::string_view name, event_type& x);

/// True for job_complete, job_failed and job_cancelled.
constexpr bool is_terminal(event_type x) {
  return x == event_type::job_complete || x == event_type::job_failed
         || x == event_type::job_cancelled;
}

/// `job_event::eta_seconds` of a progress update whose publisher said the
/// ETA is unknown (JSON null). Negative, so no real ETA is mistaken for it.
constexpr double eta_said_unknown = -1;

/// One job event, as published (seq 0, no timestamp) or as stored (stamped by
/// the job actor). Fields that a type does not use stay empty.
struct job_event {
  event_type type = event_type::progress_update;
  std::string job_id;
  uint64_t seq = 0;
  /// Unix milliseconds, stamped by the server.
  int64_t timestamp_ms = 0;
  std::string stage;
  double progress = 0;
  std::string message;
  /// Whether `eta_seconds` holds a value; JSON `null` otherwise.
  bool has_eta = false;
  /// Without a value: `eta_said_unknown` when the publisher gave null (the
  /// server then gives no estimate), 0 when it left the field out (the
  /// server estimates one).
  double eta_seconds = 0;
  /// A JSON object, minified, passed through unchanged.
  std::string results = "{}";
  std::string error_code;
  std::string error_message;
  std::string error_stage;
  std::string reason;
  std::string correlation_id;
  std::string event_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, job_event& x) {
  return f(caf::meta::type_name("job_event"), x.type, x.job_id, x.seq,
           x.timestamp_ms, x.stage, x.progress, x.message, x.has_eta,
           x.eta_seconds, x.results, x.error_code, x.error_message,
           x.error_stage, x.reason, x.correlation_id, x.event_id);
}

} // namespace jobwire
