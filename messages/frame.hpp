#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "caf/allowed_unsafe_message_type.hpp"

namespace jobwire {

/// One serialised server-to-client message. Immutable once made, so a job
/// actor serialises an event once and every subscriber's send shares it.
struct frame {
  std::string text;
  /// For job events: the job and seq, so connections can track what they
  /// were sent. For `subscribed`: the job and the seq the connection follows
  /// it from. Empty and 0 for other replies.
  std::string job_id;
  uint64_t seq = 0;
  /// A progress_update: a slow consumer may replace it with a newer one.
  bool coalescable = false;
  /// A `subscribed` reply: `seq` is where the subscription starts.
  bool starts_subscription = false;
  /// When the event was stamped, for the publish-to-send latency.
  std::chrono::steady_clock::time_point created{};
};

using frame_ptr = std::shared_ptr<const frame>;

/// Frames of one job in seq order, sent to many subscribers as one message
/// each: one CAF message and one hand-over to the session per batch, not
/// per frame.
using frame_batch = std::shared_ptr<const std::vector<frame_ptr>>;

/// A reply frame (no job event).
inline frame_ptr make_frame(std::string text) {
  return std::make_shared<const frame>(
    frame{std::move(text), {}, 0, false, false, {}});
}

/// The `subscribed` reply of a subscription that follows `job_id` from
/// `seq`: once written it counts as sent up to `seq`, so a resume goes on
/// from there rather than replaying what the client chose not to have.
inline frame_ptr make_subscribed_frame(std::string text, std::string job_id,
                                       uint64_t seq) {
  return std::make_shared<const frame>(
    frame{std::move(text), std::move(job_id), seq, false, true, {}});
}

/// A job event's frame.
inline frame_ptr make_event_frame(std::string text, std::string job_id,
                                  uint64_t seq, bool coalescable) {
  return std::make_shared<const frame>(
    frame{std::move(text), std::move(job_id), seq, coalescable, false,
          std::chrono::steady_clock::now()});
}

} // namespace jobwire

// A frame never leaves the process: connection actors are local.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobwire::frame_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobwire::frame_batch)
