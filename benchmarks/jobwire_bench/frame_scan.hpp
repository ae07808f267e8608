#pragma once

#include <cstdint>
#include <string_view>

namespace jobwire::bench {

/// The fields of a server frame (or HTTP reply body) the benchmark looks
/// at. Strings are views into the scanned text, escapes left as they are.
struct frame_fields {
  std::string_view type;
  std::string_view job_id;
  std::string_view message;
  std::string_view connection_id;
  std::string_view code;
  uint64_t seq = 0;
  bool has_seq = false;
  /// `"coalesced": N` on a progress_update that replaced N older ones.
  uint64_t coalesced = 0;
  /// `last_seq` of a job snapshot (`GET /v1/jobs/{id}`, `job_status`).
  uint64_t last_seq = 0;
  bool has_last_seq = false;
  /// `status.last_seq` of a `subscribed` frame.
  uint64_t status_last_seq = 0;
  bool has_status = false;
};

/// Scans the top level of a JSON object (and `status` one level down) for
/// the fields above; false when the text is not a well-formed object.
bool scan_frame(std::string_view text, frame_fields& out);

/// The number after `t=` at the start of `message` (0 when there is none).
uint64_t stamp_of(std::string_view message);

} // namespace jobwire::bench
