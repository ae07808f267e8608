#pragma once

#include <cstdint>
#include <string_view>

#include "caf/error.hpp"
#include "caf/make_message.hpp"

namespace jobwire {

/// The protocol's error codes (PROTOCOL.md, "Replies to client commands").
enum class error_code : uint8_t {
  invalid_json = 1,
  invalid_message,
  unknown_type,
  invalid_job_id,
  job_not_found,
  job_finished,
  unauthorized,
  rate_limited,
  too_many_subscriptions,
  message_too_large,
  connection_not_found,
  storage_full,
  internal,
};

/// The code as it appears on the wire, e.g. `"job_not_found"`.
std::string_view to_string(error_code x);

/// The HTTP status that carries `x` in an HTTP error response.
unsigned http_status(error_code x);

/// Reads the human-readable message out of an error made by `make_error`.
std::string error_message(const caf::error& x);

/// Maps any error (ours or CAF's) to a protocol code; foreign errors are
/// `internal`.
error_code to_error_code(const caf::error& x);

} // namespace jobwire

CAF_ERROR_CODE_ENUM(jobwire::error_code, "jobwire")
