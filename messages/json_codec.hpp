#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "caf/expected.hpp"

#include "messages/client_command.hpp"
#include "messages/error_code.hpp"
#include "messages/job_event.hpp"
#include "messages/job_snapshot.hpp"
#include "messages/store_refusal.hpp"

namespace jobwire {

// -- JSON in ------------------------------------------------------------------

/// Parses one client text frame. Never throws: a frame that is not a valid
/// command comes back with type `invalid`, an error code and a sentence
/// naming the field at fault. A `request_id` found before the fault is kept
/// so the error can echo it.
client_command parse_command(std::string_view text);

/// Parses the body of `POST /v1/jobs/{job_id}/events`. The result has no seq
/// and no timestamp. Errors carry an `error_code` and a sentence.
caf::expected<job_event> parse_publish(std::string_view body,
                                       std::string_view job_id);

/// Checks the fields of an event however it arrived (HTTP or CAF): job id,
/// progress range, ETA sign, id lengths, `results` being a JSON object.
caf::error validate_event(const job_event& x);

// -- JSON out -----------------------------------------------------------------

/// A stored job event as every subscriber receives it.
std::string encode_event(const job_event& x);

/// The event `json` (from encode_event) with `"coalesced": n` added: it
/// replaced `n` older progress_update events for a slow consumer.
std::string add_coalesced(std::string_view json, uint32_t n);

/// The snapshot as a JSON object (the body of `GET /v1/jobs/{id}`).
std::string encode_snapshot(const job_snapshot& x);

std::string encode_connected(std::string_view connection_id,
                             unsigned heartbeat_seconds, int64_t now_ms);

std::string encode_subscribed(const job_snapshot& x,
                              const request_tag& request_id, int64_t now_ms);

std::string encode_unsubscribed(std::string_view job_id,
                                const request_tag& request_id, int64_t now_ms);

std::string encode_job_status(const job_snapshot& x,
                              const request_tag& request_id, int64_t now_ms);

std::string encode_cancel_requested(std::string_view job_id,
                                    const request_tag& request_id,
                                    int64_t now_ms);

/// The reply to `resume`: the connection taken over and its jobs.
std::string encode_resumed(std::string_view connection_id,
                           const std::vector<std::string>& job_ids,
                           const request_tag& request_id, int64_t now_ms);

/// Sent before a close 1012 (service restart): resume with
/// `connection_id` after `retry_after_ms`.
std::string encode_resume_hint(std::string_view connection_id,
                               unsigned retry_after_ms, int64_t now_ms);

std::string encode_pong(const request_tag& request_id, int64_t now_ms);

/// An `error` frame; `job_id` is added when known.
std::string encode_error(error_code code, std::string_view message,
                         const request_tag& request_id, std::string_view job_id,
                         int64_t now_ms);

/// The HTTP error body `{"code":..,"message":..}`.
std::string encode_http_error(error_code code, std::string_view message);

/// The `/healthz` body of a server that serves: `{"status":"ok"}`, or while
/// the store refuses writes `{"status":"degraded","code":..,"message":..}`.
std::string encode_health(store_refusal store);

/// The HTTP publish acknowledgement `{"job_id":..,"seq":..}`.
std::string encode_publish_ack(std::string_view job_id, uint64_t seq);

/// `{"job_id":..,"connections":[..]}`.
std::string encode_connections(std::string_view job_id,
                               const std::vector<std::string>& ids);

} // namespace jobwire
