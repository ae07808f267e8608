#pragma once

// Header-only Boost.Test checks of the wire format in PROTOCOL.md, and
// builders for the JSON the tests send.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "http_client.hpp"
#include "json_value.hpp"
#include "ws_client.hpp"

namespace jobwire::test {

// -- formats ------------------------------------------------------------------

/// RFC 3339 UTC with milliseconds.
inline bool is_timestamp(std::string_view x) {
  static const std::regex re{R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$)"};
  return std::regex_match(x.begin(), x.end(), re);
}

/// `conn_{unix_ms}_{16 lowercase hex digits}`.
inline bool is_connection_id(std::string_view x) {
  static const std::regex re{R"(^conn_\d+_[0-9a-f]{16}$)"};
  return std::regex_match(x.begin(), x.end(), re);
}

/// "type" of a frame, or "" when it has none.
inline std::string type_of(const json_value& x) {
  auto t = x.find("type");
  return t != nullptr && t->is_string() ? t->as_string() : std::string{};
}

// -- field checks (non-fatal; each names the frame) ---------------------------

/// The frames in `xs`, for messages.
inline std::string describe(const std::vector<json_value>& xs) {
  std::string result;
  for (auto& x : xs)
    result += (result.empty() ? "" : ", ") + x.dump();
  return result.empty() ? "none" : result;
}

/// `frame` has exactly the `required` fields plus any of `optional`, each once.
inline void check_keys(const json_value& frame,
                       std::initializer_list<std::string_view> required,
                       std::initializer_list<std::string_view> optional = {}) {
  if (!frame.is_object()) {
    BOOST_ERROR("not a JSON object: " << frame);
    return;
  }
  for (auto key : required)
    BOOST_TEST(frame.contains(key),
               "missing field \"" << key << "\" in " << frame);
  std::set<std::string> seen;
  for (auto& key : frame.keys()) {
    BOOST_TEST(seen.insert(key).second,
               "duplicate field \"" << key << "\" in " << frame);
    auto known = [&key](std::initializer_list<std::string_view> xs) {
      return std::find(xs.begin(), xs.end(), key) != xs.end();
    };
    BOOST_TEST((known(required) || known(optional)),
               "unexpected field \"" << key << "\" in " << frame);
  }
}

inline void check_string(const json_value& frame, std::string_view key,
                         std::string_view expected) {
  auto x = frame.find(key);
  if (x == nullptr || !x->is_string()) {
    BOOST_ERROR("field \"" << key << "\" should be the string \"" << expected
                           << "\" in " << frame);
    return;
  }
  BOOST_TEST(x->as_string() == expected,
             "field \"" << key << "\": expected \"" << expected << "\", got \""
                        << x->as_string() << "\" in " << frame);
}

inline void check_int(const json_value& frame, std::string_view key,
                      int64_t expected) {
  auto x = frame.find(key);
  if (x == nullptr || !x->is_integer()) {
    BOOST_ERROR("field \"" << key << "\" should be the integer " << expected
                           << " in " << frame);
    return;
  }
  BOOST_TEST(x->as_int() == expected,
             "field \"" << key << "\": expected " << expected << ", got "
                        << x->as_int() << " in " << frame);
}

inline void check_number(const json_value& frame, std::string_view key,
                         double expected) {
  auto x = frame.find(key);
  if (x == nullptr || !x->is_number()) {
    BOOST_ERROR("field \"" << key << "\" should be the number " << expected
                           << " in " << frame);
    return;
  }
  BOOST_TEST(x->as_number() == expected,
             "field \"" << key << "\": expected " << expected << ", got "
                        << x->as_number() << " in " << frame);
}

inline void check_bool(const json_value& frame, std::string_view key,
                       bool expected) {
  auto x = frame.find(key);
  if (x == nullptr || !x->is_bool()) {
    BOOST_ERROR("field \"" << key << "\" should be " << std::boolalpha
                           << expected << " in " << frame);
    return;
  }
  BOOST_TEST(x->as_bool() == expected, "field \"" << key << "\": expected "
                                                  << std::boolalpha << expected
                                                  << " in " << frame);
}

inline void check_null(const json_value& frame, std::string_view key) {
  auto x = frame.find(key);
  BOOST_TEST((x != nullptr && x->is_null()),
             "field \"" << key << "\" should be null in " << frame);
}

inline void check_json(const json_value& frame, std::string_view key,
                       const json_value& expected) {
  auto x = frame.find(key);
  if (x == nullptr) {
    BOOST_ERROR("missing field \"" << key << "\" in " << frame);
    return;
  }
  BOOST_TEST((*x == expected), "field \"" << key << "\": expected " << expected
                                          << ", got " << *x);
}

/// `"timestamp"` (or `key`) is an RFC 3339 UTC timestamp with milliseconds.
inline void check_timestamp(const json_value& frame,
                            std::string_view key = "timestamp") {
  auto x = frame.find(key);
  BOOST_TEST((x != nullptr && x->is_string() && is_timestamp(x->as_string())),
             "field \"" << key << "\" should be an RFC 3339 timestamp with ms "
                        << "in " << frame);
}

/// What a snapshot should hold; `eta` nullopt means null.
struct snapshot_expect {
  std::string job_id;
  std::string status;
  std::string stage;
  double progress = 0;
  std::string message;
  std::optional<double> eta;
  bool cancel_requested = false;
  int64_t last_seq = 0;
};

/// Checks the snapshot fields of `x` (a snapshot object, or a `job_status`
/// frame that carries them), without checking for other fields.
inline void check_snapshot_fields(const json_value& x,
                                  const snapshot_expect& expected) {
  check_string(x, "job_id", expected.job_id);
  check_string(x, "status", expected.status);
  check_string(x, "stage", expected.stage);
  check_number(x, "progress", expected.progress);
  check_string(x, "message", expected.message);
  if (expected.eta)
    check_number(x, "estimated_seconds_remaining", *expected.eta);
  else
    check_null(x, "estimated_seconds_remaining");
  check_bool(x, "cancel_requested", expected.cancel_requested);
  check_int(x, "last_seq", expected.last_seq);
  // A job with no event has no update time yet: null or a timestamp.
  auto updated = x.find("updated_at");
  if (expected.status == "pending" && updated != nullptr && updated->is_null())
    return;
  check_timestamp(x, "updated_at");
}

/// The snapshot's fields, exactly.
inline void check_snapshot(const json_value& x,
                           const snapshot_expect& expected) {
  check_keys(x, {"job_id", "status", "stage", "progress", "message",
                 "estimated_seconds_remaining", "cancel_requested", "last_seq",
                 "updated_at"});
  check_snapshot_fields(x, expected);
}

/// An `error` frame with `code`; `job_id` and `request_id` must be present
/// with these values when given and absent when empty (unless
/// `job_id_optional`).
inline void check_error(const json_value& frame, std::string_view code,
                        std::string_view job_id = {},
                        std::string_view request_id = {},
                        bool job_id_optional = false) {
  check_string(frame, "type", "error");
  check_string(frame, "code", code);
  auto message = frame.find("message");
  BOOST_TEST((message != nullptr && message->is_string()
              && !message->as_string().empty()),
             "an error needs a non-empty \"message\" in " << frame);
  check_timestamp(frame);
  if (!job_id.empty())
    check_string(frame, "job_id", job_id);
  if (!request_id.empty())
    check_string(frame, "request_id", request_id);
  if (job_id_optional || !job_id.empty()) {
    if (request_id.empty())
      check_keys(frame, {"type", "code", "message", "timestamp"}, {"job_id"});
    else
      check_keys(frame, {"type", "code", "message", "timestamp", "request_id"},
                 {"job_id"});
  } else if (request_id.empty()) {
    check_keys(frame, {"type", "code", "message", "timestamp"});
  } else {
    check_keys(frame, {"type", "code", "message", "timestamp", "request_id"});
  }
}

/// An HTTP error: `status` and a body of exactly `{"code","message"}`;
/// `code` is not checked when empty.
inline void check_http_error(const http_response& res, int status,
                             std::string_view code = {}) {
  if (res.status != status) {
    BOOST_ERROR("expected HTTP " << status << ", got " << res.to_string());
    return;
  }
  json_value body;
  try {
    body = res.json();
  } catch (const std::exception& e) {
    BOOST_ERROR("HTTP " << res.status << " body is not JSON: " << res.body);
    return;
  }
  check_keys(body, {"code", "message"});
  if (!code.empty())
    check_string(body, "code", code);
  auto message = body.find("message");
  BOOST_TEST((message != nullptr && message->is_string()
              && !message->as_string().empty()),
             "an HTTP error needs a non-empty \"message\": " << res.body);
  auto type = res.header("content-type");
  BOOST_TEST(type.starts_with("application/json"),
             "HTTP error body should be application/json, got \"" << type
                                                                  << "\"");
}

/// The fields every job event carries, and `correlation_id` when given.
inline void check_event_common(const json_value& frame, std::string_view type,
                               std::string_view job_id, int64_t seq,
                               std::string_view correlation_id) {
  check_string(frame, "type", type);
  check_string(frame, "job_id", job_id);
  check_int(frame, "seq", seq);
  check_timestamp(frame);
  if (!correlation_id.empty())
    check_string(frame, "correlation_id", correlation_id);
}

/// A `progress_update` field by field; `eta` nullopt means null.
inline void check_progress_update(const json_value& frame,
                                  std::string_view job_id, int64_t seq,
                                  std::string_view stage, double progress,
                                  std::string_view message,
                                  std::optional<double> eta,
                                  std::string_view correlation_id = {}) {
  check_event_common(frame, "progress_update", job_id, seq, correlation_id);
  if (correlation_id.empty())
    check_keys(frame, {"type", "job_id", "seq", "stage", "progress", "message",
                       "estimated_seconds_remaining", "timestamp"});
  else
    check_keys(frame,
               {"type", "job_id", "seq", "stage", "progress", "message",
                "estimated_seconds_remaining", "timestamp", "correlation_id"});
  check_string(frame, "stage", stage);
  check_number(frame, "progress", progress);
  check_string(frame, "message", message);
  if (eta)
    check_number(frame, "estimated_seconds_remaining", *eta);
  else
    check_null(frame, "estimated_seconds_remaining");
}

inline void check_stage_complete(const json_value& frame,
                                 std::string_view job_id, int64_t seq,
                                 std::string_view stage,
                                 std::string_view results_json,
                                 std::string_view correlation_id = {}) {
  check_event_common(frame, "stage_complete", job_id, seq, correlation_id);
  if (correlation_id.empty())
    check_keys(frame,
               {"type", "job_id", "seq", "stage", "results", "timestamp"});
  else
    check_keys(frame, {"type", "job_id", "seq", "stage", "results", "timestamp",
                       "correlation_id"});
  check_string(frame, "stage", stage);
  check_json(frame, "results", json_value::parse(results_json));
}

inline void check_job_complete(const json_value& frame, std::string_view job_id,
                               int64_t seq, std::string_view results_json,
                               std::string_view correlation_id = {}) {
  check_event_common(frame, "job_complete", job_id, seq, correlation_id);
  if (correlation_id.empty())
    check_keys(frame, {"type", "job_id", "seq", "results", "timestamp"});
  else
    check_keys(frame, {"type", "job_id", "seq", "results", "timestamp",
                       "correlation_id"});
  check_json(frame, "results", json_value::parse(results_json));
}

inline void check_job_cancelled(const json_value& frame,
                                std::string_view job_id, int64_t seq,
                                std::string_view reason) {
  check_event_common(frame, "job_cancelled", job_id, seq, {});
  check_keys(frame, {"type", "job_id", "seq", "reason", "timestamp"});
  check_string(frame, "reason", reason);
}

/// A subscriber that did not ask for the cancel: `cancel_requested` (with
/// no request_id), then `job_cancelled`.
template <class Client>
void check_cancel_seen(Client& ws, const std::string& job, int64_t seq,
                       const std::string& reason) {
  auto note = ws.read_json();
  check_keys(note, {"type", "job_id", "timestamp"});
  check_string(note, "type", "cancel_requested");
  check_string(note, "job_id", job);
  check_job_cancelled(ws.read_json(), job, seq, reason);
}

// -- what the tests send ------------------------------------------------------

inline std::string q(std::string_view x) {
  return json_quote(x);
}

/// A `progress_update` as a pipeline publishes it; `extra` is appended
/// inside the object (e.g. `,"correlation_id":"c1"`).
inline std::string progress_event(std::string_view stage, double progress,
                                  std::string_view message,
                                  std::optional<double> eta = std::nullopt,
                                  std::string_view extra = {}) {
  auto number = json_value::make_double(progress);
  if (progress == static_cast<int64_t>(progress))
    number = json_value::make_int(static_cast<int64_t>(progress));
  std::string result = R"({"type":"progress_update","stage":)" + q(stage)
                       + R"(,"progress":)" + number.dump() + R"(,"message":)"
                       + q(message);
  if (eta)
    result += R"(,"estimated_seconds_remaining":)"
              + json_value::make_double(*eta).dump();
  result += extra;
  result += "}";
  return result;
}

inline std::string stage_complete_event(std::string_view stage,
                                        std::string_view results_json,
                                        std::string_view extra = {}) {
  return R"({"type":"stage_complete","stage":)" + q(stage) + R"(,"results":)"
         + std::string{results_json} + std::string{extra} + "}";
}

inline std::string job_complete_event(std::string_view results_json,
                                      std::string_view extra = {}) {
  return R"({"type":"job_complete","results":)" + std::string{results_json}
         + std::string{extra} + "}";
}

inline std::string
job_failed_event(std::string_view code, std::string_view message,
                 std::optional<std::string_view> stage = std::nullopt) {
  std::string error = R"({"code":)" + q(code) + R"(,"message":)" + q(message);
  if (stage)
    error += R"(,"stage":)" + q(*stage);
  error += "}";
  return R"({"type":"job_failed","error":)" + error + "}";
}

inline std::string job_cancelled_event(std::string_view reason) {
  return R"({"type":"job_cancelled","reason":)" + q(reason) + "}";
}

inline std::string events_path(std::string_view job_id) {
  return "/v1/jobs/" + std::string{job_id} + "/events";
}

inline std::string job_path(std::string_view job_id) {
  return "/v1/jobs/" + std::string{job_id};
}

/// POSTs one event, requires 202 with `{"job_id","seq"}` and returns the seq.
inline int64_t publish(http_client& http, std::string_view job_id,
                       std::string_view event) {
  auto res = http.post(events_path(job_id), event);
  BOOST_REQUIRE_MESSAGE(res.status == 202, "publishing " << event << " to "
                                                         << job_id << ": "
                                                         << res.to_string());
  auto body = res.json();
  check_keys(body, {"job_id", "seq"});
  check_string(body, "job_id", job_id);
  BOOST_REQUIRE_MESSAGE(body.contains("seq") && body["seq"].is_integer(),
                        "the 202 body needs an integer seq: " << res.body);
  return body["seq"].as_int();
}

/// Connects, reads the `connected` frame and checks it; the id goes to
/// `connection_id` when given.
inline ws_client open_ws(uint16_t port, std::string* connection_id = nullptr) {
  ws_client ws;
  ws.connect(port);
  auto hello = ws.read_json();
  check_string(hello, "type", "connected");
  if (connection_id != nullptr) {
    auto id = hello.find("connection_id");
    if (id != nullptr && id->is_string())
      *connection_id = id->as_string();
  }
  return ws;
}

/// Sends `subscribe` and requires `subscribed` as the next frame.
inline json_value subscribe(ws_client& ws, std::string_view job_id,
                            std::optional<int64_t> since_seq = std::nullopt) {
  std::string cmd = R"({"type":"subscribe","job_id":)" + q(job_id);
  if (since_seq)
    cmd += R"(,"since_seq":)" + std::to_string(*since_seq);
  cmd += "}";
  ws.send_text(cmd);
  auto reply = ws.read_json();
  BOOST_REQUIRE_MESSAGE(type_of(reply) == "subscribed",
                        "expected subscribed for " << job_id << ", got "
                                                   << reply);
  return reply;
}

/// Sends a ping and reads up to its pong; returns the frames before it.
inline std::vector<json_value>
ping_barrier(ws_client& ws, std::string_view request_id = "barrier") {
  ws.send_text(R"({"type":"ping","request_id":)" + q(request_id) + "}");
  std::vector<json_value> before;
  ws.read_until(
    [&](const json_value& x) {
      auto id = x.find("request_id");
      return type_of(x) == "pong" && id != nullptr && id->is_string()
             && id->as_string() == request_id;
    },
    ws_client::default_timeout, &before);
  return before;
}

/// The server still serves: a new WebSocket connection gets `connected` and
/// a pong, and GET /healthz answers 200.
inline void check_server_serves(uint16_t port) {
  std::string id;
  auto ws = open_ws(port, &id);
  BOOST_TEST(is_connection_id(id), "connection_id " << id);
  auto before = ping_barrier(ws, "alive");
  BOOST_TEST(before.empty(), "frames before the pong: " << before.size());
  http_client http{port};
  auto res = http.get("/healthz");
  BOOST_TEST(res.status == 200, "GET /healthz: " << res.to_string());
}

} // namespace jobwire::test
