#pragma once

#include <string>

#include "caf/error.hpp"
#include "caf/expected.hpp"

namespace jobwire::pipeline {

/// A person-readable line for `x`: `job_finished: the job has finished` for
/// jobwire's codes, `cannot_connect_to_node` (plus CAF's context, if any) for
/// CAF's; "no error" for an empty error.
std::string error_text(const caf::error& x);

/// `error_text(x.error())`, or "no error" when `x` holds a value (safe to
/// use in messages that are built whether or not `x` failed).
template <class T>
std::string error_text(const caf::expected<T>& x) {
  return x ? std::string{"no error"} : error_text(x.error());
}

/// Whether a publish or attach that failed with `x` may succeed when sent
/// again: a lost or late reply, a lost connection, `rate_limited`. Refusals
/// (invalid_message, job_finished, ...) are final.
bool is_transient(const caf::error& x);

} // namespace jobwire::pipeline
