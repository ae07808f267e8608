#include "messages/json_codec.hpp"

#include <cmath>
#include <optional>
#include <utility>

#include <simdjson.h>

#include "messages/identifiers.hpp"
#include "messages/json_reader.hpp"
#include "messages/json_writer.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace {

namespace dom = simdjson::dom;

// -- parsing helpers ----------------------------------------------------------

/// Why a message was refused.
struct fault {
  error_code code = error_code::internal;
  std::string text;
};

using maybe_fault = std::optional<fault>;

constexpr std::string_view job_id_rule
  = "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'";

fault invalid(std::string text) {
  return {error_code::invalid_message, std::move(text)};
}

fault required(std::string_view name) {
  return invalid("field '" + std::string{name} + "' is required");
}

fault must_be(std::string_view name, std::string_view what) {
  return invalid("field '" + std::string{name} + "' must be "
                 + std::string{what});
}

// What is wrong with a text simdjson refused, after "the body" or "it";
// valid JSON refused for its depth would be a puzzle without the reason.
std::string refusal_reason(simdjson::error_code err) {
  switch (err) {
    case simdjson::DEPTH_ERROR:
      return "nests arrays and objects too deeply to be read";
    case simdjson::EMPTY:
      return "is not valid JSON: it is empty";
    // JSON is UTF-8 (RFC 8259): a Latin-1 body is the common slip.
    case simdjson::UTF8_ERROR:
      return "is not valid JSON: it is not UTF-8";
    case simdjson::STRING_ERROR:
      return "is not valid JSON: it has a string with a bad escape or an "
             "unpaired surrogate";
    default:
      return "is not valid JSON";
  }
}

fault parse_error(simdjson::error_code err, std::string_view what) {
  if (err == simdjson::MEMALLOC)
    return {error_code::internal, "out of memory while parsing JSON"};
  return {error_code::invalid_json,
          "the " + std::string{what} + " " + refusal_reason(err)};
}

std::optional<dom::element> member(dom::object obj, std::string_view key) {
  dom::element x;
  if (obj.at_key(key).get(x) != simdjson::SUCCESS)
    return std::nullopt;
  return x;
}

maybe_fault read_string(dom::element x, std::string_view name,
                        std::string& out) {
  std::string_view str;
  if (x.get_string().get(str) != simdjson::SUCCESS)
    return must_be(name, "a string");
  out.assign(str.data(), str.size());
  return std::nullopt;
}

/// Reads the string member `key`, which must be present.
maybe_fault required_string(dom::object obj, std::string_view key,
                            std::string& out, std::string_view name = {}) {
  if (name.empty())
    name = key;
  auto x = member(obj, key);
  if (!x)
    return required(name);
  return read_string(*x, name, out);
}

/// Reads the string member `key` when present; leaves `out` alone otherwise.
maybe_fault optional_string(dom::object obj, std::string_view key,
                            std::string& out, std::string_view name = {}) {
  if (name.empty())
    name = key;
  auto x = member(obj, key);
  if (!x)
    return std::nullopt;
  return read_string(*x, name, out);
}

/// Reads the id in member `key`, `x`.
maybe_fault read_id(dom::element x, std::string_view key, std::string& out) {
  std::string_view str;
  if (x.get_string().get(str) != simdjson::SUCCESS
      || utf8_length(str) > max_id_length)
    return must_be(key, "a string of at most 128 characters");
  out.assign(str.data(), str.size());
  return std::nullopt;
}

/// Reads an optional id (event_id, correlation_id).
maybe_fault optional_id(dom::object obj, std::string_view key,
                        std::string& out) {
  auto x = member(obj, key);
  return x ? read_id(*x, key, out) : std::nullopt;
}

/// Reads `request_id`: given, even as "", when the member is there.
maybe_fault optional_id(dom::object obj, std::string_view key,
                        request_tag& out) {
  auto x = member(obj, key);
  if (!x)
    return std::nullopt;
  std::string id;
  if (auto f = read_id(*x, key, id))
    return f;
  out = request_tag{std::move(id)};
  return std::nullopt;
}

/// Reads the mandatory `job_id` member and checks its shape.
maybe_fault required_job_id(dom::object obj, std::string& out) {
  std::string tmp;
  if (auto f = required_string(obj, "job_id", tmp))
    return f;
  if (!is_valid_job_id(tmp))
    return fault{error_code::invalid_job_id,
                 "field 'job_id' " + std::string{job_id_rule}};
  out = std::move(tmp);
  return std::nullopt;
}

fault unknown_type(std::string_view what, std::string_view name) {
  // Echo the name only when it cannot garble the sentence.
  if (name.size() <= 64 && is_valid_job_id(name))
    return {error_code::unknown_type, "unknown " + std::string{what} + " '"
                                        + std::string{name} + "'"};
  return {error_code::unknown_type, "unknown " + std::string{what}};
}

// -- client commands ----------------------------------------------------------

maybe_fault parse_command_fields(std::string_view text, client_command& cmd) {
  dom::element root;
  if (auto err = parse_json(text, root))
    return parse_error(err, "message");
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)
    return invalid("the message must be a JSON object");
  // Read request_id first, so that every later error can echo it.
  if (auto f = optional_id(obj, "request_id", cmd.request_id))
    return f;
  std::string type;
  if (auto f = required_string(obj, "type", type))
    return f;
  if (type == "subscribe") {
    if (auto f = required_job_id(obj, cmd.job_id))
      return f;
    if (auto x = member(obj, "since_seq")) {
      int64_t signed_val = 0;
      uint64_t unsigned_val = 0;
      if (x->is_int64() && x->get_int64().get(signed_val) == simdjson::SUCCESS
          && signed_val >= 0) {
        cmd.since_seq = static_cast<uint64_t>(signed_val);
      } else if (x->is_uint64()
                 && x->get_uint64().get(unsigned_val) == simdjson::SUCCESS) {
        cmd.since_seq = unsigned_val;
      } else {
        return must_be("since_seq", "an integer >= 0");
      }
      cmd.has_since_seq = true;
    }
    if (auto f = optional_string(obj, "token", cmd.token))
      return f;
    cmd.type = command_type::subscribe;
  } else if (type == "unsubscribe") {
    if (auto f = required_job_id(obj, cmd.job_id))
      return f;
    cmd.type = command_type::unsubscribe;
  } else if (type == "cancel_job") {
    if (auto f = required_job_id(obj, cmd.job_id))
      return f;
    if (auto f = optional_string(obj, "reason", cmd.reason))
      return f;
    if (auto f = optional_string(obj, "token", cmd.token))
      return f;
    cmd.type = command_type::cancel_job;
  } else if (type == "request_status") {
    if (auto f = required_job_id(obj, cmd.job_id))
      return f;
    cmd.type = command_type::request_status;
  } else if (type == "resume") {
    if (auto f = required_string(obj, "connection_id", cmd.connection_id))
      return f;
    cmd.type = command_type::resume;
  } else if (type == "ping") {
    cmd.type = command_type::ping;
  } else {
    return unknown_type("message type", type);
  }
  return std::nullopt;
}

// -- published events ---------------------------------------------------------

maybe_fault read_results(dom::object obj, std::string_view body,
                         job_event& ev) {
  auto x = member(obj, "results");
  if (!x)
    return std::nullopt;
  if (!x->is_object())
    return must_be("results", "a JSON object");
  // Take the text from the input so that numbers keep their spelling.
  if (!find_raw_object(body, "results", ev.results))
    return fault{error_code::internal, "could not read field 'results'"};
  return std::nullopt;
}

maybe_fault parse_publish_fields(std::string_view body, std::string_view job_id,
                                 job_event& ev) {
  if (!is_valid_job_id(job_id))
    return fault{error_code::invalid_job_id,
                 "the job id " + std::string{job_id_rule}};
  ev.job_id.assign(job_id.data(), job_id.size());
  dom::element root;
  if (auto err = parse_json(body, root))
    return parse_error(err, "body");
  dom::object obj;
  if (root.get_object().get(obj) != simdjson::SUCCESS)
    return invalid("the body must be a JSON object");
  if (auto x = member(obj, "job_id")) {
    std::string body_id;
    if (auto f = read_string(*x, "job_id", body_id))
      return f;
    if (body_id != job_id)
      return invalid("field 'job_id' does not match the job id in the path");
  }
  std::string type;
  if (auto f = required_string(obj, "type", type))
    return f;
  if (!from_string(type, ev.type))
    return unknown_type("event type", type);
  if (auto f = optional_id(obj, "correlation_id", ev.correlation_id))
    return f;
  if (auto f = optional_id(obj, "event_id", ev.event_id))
    return f;
  switch (ev.type) {
    case event_type::progress_update: {
      if (auto f = required_string(obj, "stage", ev.stage))
        return f;
      auto progress = member(obj, "progress");
      if (!progress)
        return required("progress");
      if (progress->get_double().get(ev.progress) != simdjson::SUCCESS
          || !(ev.progress >= 0 && ev.progress <= 100))
        return must_be("progress", "a number from 0 to 100");
      // Write 0 rather than -0.
      ev.progress += 0.0;
      if (auto f = optional_string(obj, "message", ev.message))
        return f;
      if (auto eta = member(obj, "estimated_seconds_remaining");
          eta && eta->is_null()) {
        ev.eta_seconds = eta_said_unknown;
      } else if (eta) {
        if (eta->get_double().get(ev.eta_seconds) != simdjson::SUCCESS
            || !(ev.eta_seconds >= 0))
          return must_be("estimated_seconds_remaining",
                         "a number >= 0 or null");
        ev.eta_seconds += 0.0;
        ev.has_eta = true;
      }
      break;
    }
    case event_type::stage_complete:
      if (auto f = required_string(obj, "stage", ev.stage))
        return f;
      if (auto f = read_results(obj, body, ev))
        return f;
      break;
    case event_type::job_complete:
      if (auto f = read_results(obj, body, ev))
        return f;
      break;
    case event_type::job_failed: {
      auto err = member(obj, "error");
      if (!err)
        return required("error");
      dom::object err_obj;
      if (err->get_object().get(err_obj) != simdjson::SUCCESS)
        return must_be("error", "an object");
      if (auto f = required_string(err_obj, "code", ev.error_code,
                                   "error.code"))
        return f;
      if (auto f = required_string(err_obj, "message", ev.error_message,
                                   "error.message"))
        return f;
      if (auto f = optional_string(err_obj, "stage", ev.error_stage,
                                   "error.stage"))
        return f;
      break;
    }
    case event_type::job_cancelled:
      if (auto f = optional_string(obj, "reason", ev.reason))
        return f;
      break;
  }
  return std::nullopt;
}

// -- validation ---------------------------------------------------------------

caf::error make_fault(error_code code, std::string text) {
  return caf::make_error(code, std::move(text));
}

caf::error invalid_field(std::string_view name, std::string_view what) {
  return make_fault(error_code::invalid_message,
                    "field '" + std::string{name} + "' must be "
                      + std::string{what});
}

// Why `text` is not a JSON object: empty when it is other JSON, else what
// is wrong with it (a results text too deep to read is not "not an object").
std::optional<std::string> not_object_reason(std::string_view text) {
  dom::element root;
  if (auto err = parse_json(text, root))
    return "it " + refusal_reason(err);
  if (root.is_object())
    return std::nullopt;
  return std::string{};
}

// -- encoding helpers ---------------------------------------------------------

void put_eta(json_writer& w, bool has_eta, double eta_seconds) {
  if (has_eta)
    w.field("estimated_seconds_remaining", eta_seconds);
  else
    w.null_field("estimated_seconds_remaining");
}

void put_snapshot(json_writer& w, const job_snapshot& x) {
  w.field("job_id", x.job_id);
  w.field("status", to_string(x.status));
  w.field("stage", x.stage);
  w.field("progress", x.progress);
  w.field("message", x.message);
  put_eta(w, x.has_eta, x.eta_seconds);
  w.field("cancel_requested", x.cancel_requested);
  w.field("last_seq", x.last_seq);
  if (x.updated_at_ms != 0)
    w.field("updated_at", format_timestamp(x.updated_at_ms));
  else
    w.null_field("updated_at");
}

/// Adds the trailing `request_id` (when given) and `timestamp`.
std::string finish_reply(json_writer& w, const request_tag& request_id,
                         int64_t now_ms) {
  if (request_id.given)
    w.field("request_id", request_id.text);
  w.field("timestamp", format_timestamp(now_ms));
  return w.finish();
}

std::string_view results_or_empty(const std::string& results) {
  return results.empty() ? std::string_view{"{}"} : std::string_view{results};
}

} // namespace

// -- JSON in ------------------------------------------------------------------

client_command parse_command(std::string_view text) {
  client_command cmd;
  try {
    if (auto f = parse_command_fields(text, cmd)) {
      cmd.type = command_type::invalid;
      cmd.error = f->code;
      cmd.error_message = std::move(f->text);
    }
    return cmd;
  } catch (...) {
    // Keep the request id (if read), drop everything else.
    client_command res;
    try {
      res.request_id = std::move(cmd.request_id);
      res.error_message = "internal error while parsing the message";
    } catch (...) {
      // nop
    }
    res.type = command_type::invalid;
    res.error = error_code::internal;
    return res;
  }
}

caf::expected<job_event> parse_publish(std::string_view body,
                                       std::string_view job_id) {
  try {
    job_event ev;
    if (auto f = parse_publish_fields(body, job_id, ev))
      return make_fault(f->code, std::move(f->text));
    if (auto err = validate_event(ev))
      return err;
    return ev;
  } catch (...) {
    try {
      return make_fault(error_code::internal,
                        "internal error while parsing the event");
    } catch (...) {
      return caf::error{static_cast<uint8_t>(error_code::internal),
                        caf::atom("jobwire")};
    }
  }
}

caf::error validate_event(const job_event& x) {
  try {
    if (!is_valid_job_id(x.job_id))
      return make_fault(error_code::invalid_job_id,
                        "the job id " + std::string{job_id_rule});
    if (x.type == event_type::progress_update) {
      if (!std::isfinite(x.progress) || x.progress < 0 || x.progress > 100)
        return invalid_field("progress", "a number from 0 to 100");
      if (x.stage.empty())
        return invalid_field("stage", "a non-empty string");
    }
    if (x.has_eta && (!std::isfinite(x.eta_seconds) || x.eta_seconds < 0))
      return invalid_field("estimated_seconds_remaining",
                           "a number >= 0 or null");
    if (utf8_length(x.correlation_id) > max_id_length)
      return invalid_field("correlation_id",
                           "a string of at most 128 characters");
    // Bytes, not characters: it is part of a storage key, and LMDB's keys
    // end at 511 bytes.
    if (x.event_id.size() > max_id_length)
      return invalid_field("event_id",
                           "a string of at most 128 bytes (in UTF-8)");
    if (x.type == event_type::stage_complete) {
      if (x.stage.empty())
        return invalid_field("stage", "a non-empty string");
    }
    if (x.type == event_type::stage_complete
        || x.type == event_type::job_complete) {
      if (auto why = not_object_reason(x.results))
        return invalid_field("results", why->empty()
                                          ? "a JSON object"
                                          : "a JSON object: " + *why);
    }
    if (x.type == event_type::job_failed && x.error_code.empty())
      return invalid_field("error.code", "a non-empty string");
    // Events from CAF publishers skipped the JSON parser's UTF-8 check; a
    // text frame with invalid UTF-8 would make every subscriber close.
    std::pair<std::string_view, const std::string*> texts[] = {
      {"stage", &x.stage},
      {"message", &x.message},
      {"error.code", &x.error_code},
      {"error.message", &x.error_message},
      {"error.stage", &x.error_stage},
      {"reason", &x.reason},
      {"correlation_id", &x.correlation_id},
      {"event_id", &x.event_id},
    };
    for (auto& [name, str] : texts)
      if (!simdjson::validate_utf8(str->data(), str->size()))
        return invalid_field(name, "valid UTF-8");
    return {};
  } catch (...) {
    return caf::error{static_cast<uint8_t>(error_code::internal),
                      caf::atom("jobwire")};
  }
}

// -- JSON out -----------------------------------------------------------------

std::string encode_event(const job_event& x) {
  json_writer w;
  w.field("type", to_string(x.type));
  w.field("job_id", x.job_id);
  w.field("seq", x.seq);
  switch (x.type) {
    case event_type::progress_update:
      w.field("stage", x.stage);
      w.field("progress", x.progress);
      w.field("message", x.message);
      put_eta(w, x.has_eta, x.eta_seconds);
      break;
    case event_type::stage_complete:
      w.field("stage", x.stage);
      w.raw_field("results", results_or_empty(x.results));
      break;
    case event_type::job_complete:
      w.raw_field("results", results_or_empty(x.results));
      break;
    case event_type::job_failed: {
      json_writer err;
      err.field("code", x.error_code);
      err.field("message", x.error_message);
      if (!x.error_stage.empty())
        err.field("stage", x.error_stage);
      w.raw_field("error", err.finish());
      break;
    }
    case event_type::job_cancelled:
      w.field("reason", x.reason);
      break;
  }
  if (!x.correlation_id.empty())
    w.field("correlation_id", x.correlation_id);
  w.field("timestamp", format_timestamp(x.timestamp_ms));
  return w.finish();
}

std::string add_coalesced(std::string_view json, uint32_t n) {
  // encode_event writes "timestamp" last; the count goes right before it.
  auto at = json.rfind(",\"timestamp\":");
  if (at == std::string_view::npos)
    at = json.size() - 1;
  std::string out;
  out.reserve(json.size() + 24);
  out.append(json.substr(0, at));
  out += ",\"coalesced\":";
  out += std::to_string(n);
  out.append(json.substr(at));
  return out;
}

std::string encode_snapshot(const job_snapshot& x) {
  json_writer w;
  put_snapshot(w, x);
  return w.finish();
}

std::string encode_connected(std::string_view connection_id,
                             unsigned heartbeat_seconds, int64_t now_ms) {
  json_writer w;
  w.field("type", "connected");
  w.field("connection_id", connection_id);
  w.field("heartbeat_seconds", heartbeat_seconds);
  w.field("timestamp", format_timestamp(now_ms));
  return w.finish();
}

std::string encode_subscribed(const job_snapshot& x,
                              const request_tag& request_id, int64_t now_ms) {
  json_writer w;
  w.field("type", "subscribed");
  w.field("job_id", x.job_id);
  w.raw_field("status", encode_snapshot(x));
  return finish_reply(w, request_id, now_ms);
}

std::string encode_unsubscribed(std::string_view job_id,
                                const request_tag& request_id, int64_t now_ms) {
  json_writer w;
  w.field("type", "unsubscribed");
  w.field("job_id", job_id);
  return finish_reply(w, request_id, now_ms);
}

std::string encode_job_status(const job_snapshot& x,
                              const request_tag& request_id, int64_t now_ms) {
  json_writer w;
  w.field("type", "job_status");
  put_snapshot(w, x);
  return finish_reply(w, request_id, now_ms);
}

std::string encode_cancel_requested(std::string_view job_id,
                                    const request_tag& request_id,
                                    int64_t now_ms) {
  json_writer w;
  w.field("type", "cancel_requested");
  w.field("job_id", job_id);
  return finish_reply(w, request_id, now_ms);
}

namespace {

/// `["a","b"]`, each escaped.
std::string string_array(const std::vector<std::string>& xs) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i > 0)
      out += ',';
    out += '"';
    append_escaped(out, xs[i]);
    out += '"';
  }
  out += ']';
  return out;
}

} // namespace

std::string encode_resume_hint(std::string_view connection_id,
                               unsigned retry_after_ms, int64_t now_ms) {
  json_writer w;
  w.field("type", "resume_hint");
  w.field("connection_id", connection_id);
  w.field("retry_after_ms", retry_after_ms);
  return finish_reply(w, {}, now_ms);
}

std::string encode_pong(const request_tag& request_id, int64_t now_ms) {
  json_writer w;
  w.field("type", "pong");
  return finish_reply(w, request_id, now_ms);
}

std::string encode_error(error_code code, std::string_view message,
                         const request_tag& request_id, std::string_view job_id,
                         int64_t now_ms) {
  json_writer w;
  w.field("type", "error");
  w.field("code", to_string(code));
  w.field("message", message);
  if (!job_id.empty())
    w.field("job_id", job_id);
  return finish_reply(w, request_id, now_ms);
}

std::string encode_http_error(error_code code, std::string_view message) {
  json_writer w;
  w.field("code", to_string(code));
  w.field("message", message);
  return w.finish();
}

std::string encode_health(store_refusal store) {
  json_writer w;
  if (store == store_refusal::none) {
    w.field("status", "ok");
    return w.finish();
  }
  w.field("status", "degraded");
  w.field("code", to_string(to_error_code(store)));
  w.field("message",
          "writes are refused (publishes, cancels): "
            + std::string{message(store)});
  return w.finish();
}

std::string encode_publish_ack(std::string_view job_id, uint64_t seq) {
  json_writer w;
  w.field("job_id", job_id);
  w.field("seq", seq);
  return w.finish();
}

std::string encode_connections(std::string_view job_id,
                               const std::vector<std::string>& ids) {
  json_writer w;
  w.field("job_id", job_id);
  w.raw_field("connections", string_array(ids));
  return w.finish();
}

std::string encode_resumed(std::string_view connection_id,
                           const std::vector<std::string>& job_ids,
                           const request_tag& request_id, int64_t now_ms) {
  json_writer w;
  w.field("type", "resumed");
  w.field("connection_id", connection_id);
  w.raw_field("job_ids", string_array(job_ids));
  return finish_reply(w, request_id, now_ms);
}

} // namespace jobwire
