#define BOOST_TEST_MODULE json_codec
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "messages/json_codec.hpp"

namespace jobwire {

// Lets Boost.Test print the enums in failure messages.
std::ostream& boost_test_print_type(std::ostream& out, command_type x) {
  return out << "command_type(" << static_cast<int>(x) << ")";
}

std::ostream& boost_test_print_type(std::ostream& out, error_code x) {
  return out << to_string(x);
}

std::ostream& boost_test_print_type(std::ostream& out, event_type x) {
  return out << to_string(x);
}

} // namespace jobwire

using namespace jobwire;
using namespace std::literals;

namespace {

// 2024-01-15T10:30:15.000Z
constexpr int64_t t0 = 1705314615000;

client_command accepted_command(std::string_view text) {
  auto cmd = parse_command(text);
  BOOST_TEST_INFO("input: " << text);
  BOOST_REQUIRE_MESSAGE(cmd.type != command_type::invalid,
                        "refused with " << to_string(cmd.error) << ": "
                                        << cmd.error_message);
  return cmd;
}

job_event accepted_event(std::string_view body,
                         std::string_view job_id = "job_1") {
  auto res = parse_publish(body, job_id);
  if (!res)
    BOOST_FAIL("refused: " << error_message(res.error())
                           << "; input: " << body);
  return std::move(*res);
}

struct command_rejection {
  std::string text;
  error_code code;
  std::string message;
  std::string request_id = {};
};

struct publish_rejection {
  std::string body;
  error_code code;
  std::string message;
  std::string job_id = "job_1";
};

const std::string job_id_rule
  = "must be 1 to 128 characters of A-Z, a-z, 0-9, '.', '_', ':' or '-'";

std::string json_string(std::string_view x) {
  return "\"" + std::string{x} + "\"";
}

job_event sample_event(event_type type) {
  job_event x;
  x.type = type;
  x.job_id = "job_20240115_abc123";
  x.seq = 7;
  x.timestamp_ms = t0;
  switch (type) {
    case event_type::progress_update:
      x.stage = "stage_1";
      x.progress = 50;
      x.message = "Detecting walls...";
      x.has_eta = true;
      x.eta_seconds = 15;
      break;
    case event_type::stage_complete:
      x.stage = "stage_1";
      x.results = R"({"rooms":[{"area":12.50,"id":12345678901234567890123}]})";
      break;
    case event_type::job_complete:
      x.results = R"({"rooms":[],"ok":true})";
      break;
    case event_type::job_failed:
      x.error_code = "model_error";
      x.error_message = "Model \"v2\" failed";
      x.error_stage = "stage_2";
      break;
    case event_type::job_cancelled:
      x.reason = "user request";
      break;
  }
  return x;
}

const event_type all_event_types[] = {
  event_type::progress_update, event_type::stage_complete,
  event_type::job_complete,    event_type::job_failed,
  event_type::job_cancelled,
};

std::string str(simdjson::dom::element x) {
  return std::string{std::string_view{x}};
}

// Minifies a DOM element the way simdjson prints it, for comparing objects.
std::string printed(simdjson::dom::element x) {
  return simdjson::minify(x);
}

} // namespace

// -- parse_command: accepted commands -----------------------------------------

BOOST_AUTO_TEST_SUITE(parse_command_accepts)

BOOST_AUTO_TEST_CASE(subscribe) {
  auto cmd = accepted_command(
    R"({"type":"subscribe","job_id":"job_20240115_abc123"})");
  BOOST_TEST(cmd.type == command_type::subscribe);
  BOOST_TEST(cmd.job_id == "job_20240115_abc123");
  BOOST_TEST(!cmd.request_id.given);
  BOOST_TEST(!cmd.has_since_seq);
  BOOST_TEST(cmd.since_seq == 0u);
}

BOOST_AUTO_TEST_CASE(subscribe_with_since_seq_and_request_id) {
  auto cmd = accepted_command(
    R"({"type":"subscribe","job_id":"job_1","since_seq":0,"request_id":"r1"})");
  BOOST_TEST(cmd.type == command_type::subscribe);
  BOOST_TEST(cmd.job_id == "job_1");
  BOOST_TEST(cmd.request_id.text == "r1");
  BOOST_TEST(cmd.has_since_seq);
  BOOST_TEST(cmd.since_seq == 0u);
  cmd = accepted_command(
    R"({"type":"subscribe","job_id":"job_1","since_seq":42})");
  BOOST_TEST(cmd.has_since_seq);
  BOOST_TEST(cmd.since_seq == 42u);
  cmd = accepted_command(
    R"({"type":"subscribe","job_id":"job_1",)"
    R"("since_seq":18446744073709551615})");
  BOOST_TEST(cmd.has_since_seq);
  BOOST_TEST(cmd.since_seq == std::numeric_limits<uint64_t>::max());
}

BOOST_AUTO_TEST_CASE(unsubscribe) {
  auto cmd = accepted_command(
    R"({"type":"unsubscribe","job_id":"a.B-9:z_","request_id":"u"})");
  BOOST_TEST(cmd.type == command_type::unsubscribe);
  BOOST_TEST(cmd.job_id == "a.B-9:z_");
  BOOST_TEST(cmd.request_id.text == "u");
}

BOOST_AUTO_TEST_CASE(cancel_job) {
  auto cmd = accepted_command(
    R"({"type":"cancel_job","job_id":"job_1",)"
    R"("reason":"user said \"stop\"\n"})");
  BOOST_TEST(cmd.type == command_type::cancel_job);
  BOOST_TEST(cmd.job_id == "job_1");
  BOOST_TEST(cmd.reason == "user said \"stop\"\n");
  cmd = accepted_command(R"({"type":"cancel_job","job_id":"job_1"})");
  BOOST_TEST(cmd.type == command_type::cancel_job);
  BOOST_TEST(cmd.reason == "");
}

BOOST_AUTO_TEST_CASE(request_status) {
  auto cmd = accepted_command(
    R"({"type":"request_status","job_id":"job_1","request_id":"s1"})");
  BOOST_TEST(cmd.type == command_type::request_status);
  BOOST_TEST(cmd.job_id == "job_1");
  BOOST_TEST(cmd.request_id.text == "s1");
}

BOOST_AUTO_TEST_CASE(resume) {
  auto cmd = accepted_command(
    R"({"type":"resume",)"
    R"("connection_id":"conn_1700000000000_9f86d081884c7d65"})");
  BOOST_TEST(cmd.type == command_type::resume);
  BOOST_TEST(cmd.connection_id == "conn_1700000000000_9f86d081884c7d65");
  BOOST_TEST(cmd.job_id == "");
}

BOOST_AUTO_TEST_CASE(ping) {
  auto cmd = accepted_command(R"({"type":"ping"})");
  BOOST_TEST(cmd.type == command_type::ping);
  BOOST_TEST(!cmd.request_id.given);
  cmd = accepted_command(R"({"request_id":"p-1","type":"ping"})");
  BOOST_TEST(cmd.type == command_type::ping);
  BOOST_TEST(cmd.request_id.text == "p-1");
}

BOOST_AUTO_TEST_CASE(unknown_fields_and_whitespace) {
  auto cmd = accepted_command(
    " \n\t{ \"extra\" : [1, {\"x\": null}, 12345678901234567890123, 1e999],\r\n"
    "  \"token\": \"abc\", \"job_id\" : \"job_1\","
    " \"type\" : \"subscribe\" } ");
  BOOST_TEST(cmd.type == command_type::subscribe);
  BOOST_TEST(cmd.job_id == "job_1");
}

BOOST_AUTO_TEST_CASE(escaped_keys_and_values) {
  auto cmd = accepted_command(
    R"({"typ\u0065":"ping","request_id":"caf\u00e9 \ud83d\ude00"})");
  BOOST_TEST(cmd.type == command_type::ping);
  BOOST_TEST(cmd.request_id.text == "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

BOOST_AUTO_TEST_CASE(an_empty_request_id_is_one_and_is_echoed) {
  // PROTOCOL.md echoes request_id "when the command had one".
  auto cmd = accepted_command(R"({"type":"ping","request_id":""})");
  BOOST_TEST(cmd.request_id.given);
  BOOST_TEST(cmd.request_id.text == "");
  BOOST_TEST(encode_pong(cmd.request_id, 0)
             == R"({"type":"pong","request_id":"",)"
                R"("timestamp":"1970-01-01T00:00:00.000Z"})");
  auto bad = parse_command(R"({"request_id":"","type":"nope"})");
  BOOST_TEST(bad.request_id.given);
}

BOOST_AUTO_TEST_CASE(request_id_of_128_characters) {
  auto id = std::string(128, 'r');
  auto cmd = accepted_command(R"({"type":"ping","request_id":)"
                              + json_string(id) + "}");
  BOOST_TEST(cmd.request_id.text == id);
}

BOOST_AUTO_TEST_CASE(request_id_counts_characters_not_bytes) {
  // 128 two-byte characters (256 bytes) are 128 characters; one more is not.
  std::string id;
  for (int i = 0; i < 128; ++i)
    id += "\u00e9"; // é, escaped in the JSON
  std::string utf8;
  for (int i = 0; i < 128; ++i)
    utf8 += "\xc3\xa9";
  auto cmd = accepted_command(R"({"type":"ping","request_id":")" + id + "\"}");
  BOOST_TEST(cmd.request_id.text == utf8);
  auto raw = accepted_command(R"({"type":"ping","request_id":")" + utf8
                              + "\"}");
  BOOST_TEST(raw.request_id.text == utf8);
  auto over = parse_command(R"({"type":"ping","request_id":")" + utf8
                            + "\xc3\xa9\"}");
  BOOST_TEST(over.type == command_type::invalid);
}

BOOST_AUTO_TEST_CASE(job_id_of_128_characters) {
  auto id = std::string(128, 'j');
  auto cmd = accepted_command(R"({"type":"subscribe","job_id":)"
                              + json_string(id) + "}");
  BOOST_TEST(cmd.job_id == id);
}

BOOST_AUTO_TEST_SUITE_END()

// -- parse_command: rejections ------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_command_rejects) {
  auto not_json = "the message is not valid JSON"s;
  auto bad_string
    = ": it has a string with a bad escape or an unpaired surrogate"s;
  auto not_object = "the message must be a JSON object"s;
  auto bad_job_id = "field 'job_id' " + job_id_rule;
  auto bad_seq = "field 'since_seq' must be an integer >= 0"s;
  auto bad_rid
    = "field 'request_id' must be a string of at most 128 characters"s;
  auto sub = R"({"type":"subscribe","job_id":)"s;
  std::vector<command_rejection> cases{
    // Not JSON.
    {"", error_code::invalid_json, not_json + ": it is empty"},
    {"   ", error_code::invalid_json, not_json + ": it is empty"},
    {"{", error_code::invalid_json, not_json},
    {R"({"type":"ping",})", error_code::invalid_json, not_json},
    {R"({"type":"ping"} x)", error_code::invalid_json, not_json},
    {R"({"type":"ping"}{})", error_code::invalid_json, not_json},
    {"{'type':'ping'}", error_code::invalid_json, not_json},
    {R"({type:"ping"})", error_code::invalid_json, not_json},
    {R"({"type":"ping","a":01})", error_code::invalid_json, not_json},
    {R"({"type":"ping","a":1.})", error_code::invalid_json, not_json},
    {R"({"type":"ping","a":-})", error_code::invalid_json, not_json},
    {R"({"type":"ping","a":+1})", error_code::invalid_json, not_json},
    {R"({"type":"ping","a":NaN})", error_code::invalid_json, not_json},
    {R"({"type":"ping","a":12345678901234567890123 x})",
     error_code::invalid_json, not_json},
    {R"({12345678901234567890123:1})", error_code::invalid_json, not_json},
    {R"([12345678901234567890123 12345678901234567890123])",
     error_code::invalid_json, not_json},
    {"{\"type\":\"ping\",\"a\":\"tab\there\"}", error_code::invalid_json,
     not_json},
    {R"({"type":"ping","a":"\x"})", error_code::invalid_json,
     not_json + bad_string},
    {R"({"type":"ping","a":"\ud800"})", error_code::invalid_json,
     not_json + bad_string},
    {"{\"type\":\"ping\",\"a\":\"\xff\"}", error_code::invalid_json,
     not_json + ": it is not UTF-8"},
    // JSON, but not an object.
    {"[]", error_code::invalid_message, not_object},
    {R"([{"type":"ping"}])", error_code::invalid_message, not_object},
    {R"("ping")", error_code::invalid_message, not_object},
    {"42", error_code::invalid_message, not_object},
    {"null", error_code::invalid_message, not_object},
    {"true", error_code::invalid_message, not_object},
    // type
    {"{}", error_code::invalid_message, "field 'type' is required"},
    {R"({"Type":"ping"})", error_code::invalid_message,
     "field 'type' is required"},
    {R"({"type":1})", error_code::invalid_message,
     "field 'type' must be a string"},
    {R"({"type":null})", error_code::invalid_message,
     "field 'type' must be a string"},
    {R"({"type":["ping"]})", error_code::invalid_message,
     "field 'type' must be a string"},
    {R"({"type":"dance"})", error_code::unknown_type,
     "unknown message type 'dance'"},
    {R"({"type":"Subscribe","job_id":"job_1"})", error_code::unknown_type,
     "unknown message type 'Subscribe'"},
    {R"({"type":""})", error_code::unknown_type, "unknown message type"},
    {R"({"type":"a \"b\""})", error_code::unknown_type,
     "unknown message type"},
    {R"({"type":"progress_update","job_id":"job_1"})",
     error_code::unknown_type, "unknown message type 'progress_update'"},
    // job_id
    {R"({"type":"subscribe"})", error_code::invalid_message,
     "field 'job_id' is required"},
    {sub + "5}", error_code::invalid_message,
     "field 'job_id' must be a string"},
    {sub + "null}", error_code::invalid_message,
     "field 'job_id' must be a string"},
    {sub + R"(["job_1"]})", error_code::invalid_message,
     "field 'job_id' must be a string"},
    {sub + R"(""})", error_code::invalid_job_id, bad_job_id},
    {sub + json_string(std::string(129, 'j')) + "}", error_code::invalid_job_id,
     bad_job_id},
    {sub + R"("job 1"})", error_code::invalid_job_id, bad_job_id},
    {sub + R"("job/1"})", error_code::invalid_job_id, bad_job_id},
    {sub + R"("../etc"})", error_code::invalid_job_id, bad_job_id},
    {sub + R"("j\u00f6b"})", error_code::invalid_job_id, bad_job_id},
    {sub + "\"j\xc3\xb6" "b\"}", error_code::invalid_job_id, bad_job_id},
    {sub + R"("job_1\n"})", error_code::invalid_job_id, bad_job_id},
    {sub + R"("job\u0000"})", error_code::invalid_job_id, bad_job_id},
    {sub + R"("job*"})", error_code::invalid_job_id, bad_job_id},
    {R"({"type":"unsubscribe"})", error_code::invalid_message,
     "field 'job_id' is required"},
    {R"({"type":"unsubscribe","job_id":"a b"})", error_code::invalid_job_id,
     bad_job_id},
    {R"({"type":"cancel_job","job_id":1})", error_code::invalid_message,
     "field 'job_id' must be a string"},
    {R"({"type":"request_status","job_id":"x/y"})",
     error_code::invalid_job_id, bad_job_id},
    {R"({"type":"request_status"})", error_code::invalid_message,
     "field 'job_id' is required"},
    // The job id is checked before other fields.
    {sub + R"("bad id","since_seq":-1})", error_code::invalid_job_id,
     bad_job_id},
    // since_seq
    {sub + R"("job_1","since_seq":-1})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":1.5})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":1.0})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":1e2})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":"1"})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":null})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":true})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":[]})", error_code::invalid_message,
     bad_seq},
    {sub + R"("job_1","since_seq":18446744073709551616})",
     error_code::invalid_message, bad_seq},
    {sub + R"("job_1","since_seq":-9223372036854775809})",
     error_code::invalid_message, bad_seq},
    // request_id
    {R"({"type":"ping","request_id":)" + json_string(std::string(129, 'r'))
       + "}",
     error_code::invalid_message, bad_rid},
    {R"({"type":"ping","request_id":5})", error_code::invalid_message,
     bad_rid},
    {R"({"type":"ping","request_id":null})", error_code::invalid_message,
     bad_rid},
    {R"({"type":"ping","request_id":{"id":"r"}})",
     error_code::invalid_message, bad_rid},
    // An invalid request_id is reported before a missing type.
    {R"({"request_id":7})", error_code::invalid_message, bad_rid},
    // reason
    {R"({"type":"cancel_job","job_id":"job_1","reason":5})",
     error_code::invalid_message, "field 'reason' must be a string"},
    {R"({"type":"cancel_job","job_id":"job_1","reason":null})",
     error_code::invalid_message, "field 'reason' must be a string"},
    // connection_id
    {R"({"type":"resume"})", error_code::invalid_message,
     "field 'connection_id' is required"},
    {R"({"type":"resume","connection_id":7})", error_code::invalid_message,
     "field 'connection_id' must be a string"},
    // The request_id is kept for the error reply.
    {R"({"type":"subscribe","request_id":"r-7","job_id":"bad id"})",
     error_code::invalid_job_id, bad_job_id, "r-7"},
    {R"({"request_id":"r-8","type":"nope"})", error_code::unknown_type,
     "unknown message type 'nope'", "r-8"},
    {sub + R"("job_1","since_seq":-1,"request_id":"r9"})",
     error_code::invalid_message, bad_seq, "r9"},
    {R"({"request_id":"r10"})", error_code::invalid_message,
     "field 'type' is required", "r10"},
    {R"({"type":"resume","request_id":"r11"})", error_code::invalid_message,
     "field 'connection_id' is required", "r11"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("input: " << c.text) {
      auto cmd = parse_command(c.text);
      BOOST_TEST(cmd.type == command_type::invalid);
      BOOST_TEST(cmd.error == c.code);
      BOOST_TEST(cmd.error_message == c.message);
      BOOST_TEST(cmd.request_id.text == c.request_id);
    }
  }
}

BOOST_AUTO_TEST_CASE(parse_command_keeps_valid_job_id_on_later_error) {
  auto cmd = parse_command(
    R"({"type":"subscribe","job_id":"job_1","since_seq":"1"})");
  BOOST_TEST(cmd.type == command_type::invalid);
  BOOST_TEST(cmd.job_id == "job_1");
  cmd = parse_command(R"({"type":"subscribe","job_id":"job 1"})");
  BOOST_TEST(cmd.type == command_type::invalid);
  BOOST_TEST(cmd.job_id == "");
}

BOOST_AUTO_TEST_CASE(parse_command_handles_deep_nesting) {
  // Deeper than simdjson's default limit: refused, not crashed.
  auto deep = R"({"type":"ping","x":)" + std::string(5000, '[')
              + std::string(5000, ']') + "}";
  auto cmd = parse_command(deep);
  BOOST_TEST(cmd.type == command_type::invalid);
  BOOST_TEST(cmd.error == error_code::invalid_json);
  // Valid JSON: the message says why it is refused.
  BOOST_TEST(cmd.error_message
             == "the message nests arrays and objects too deeply to be read");
  // Within the limit: accepted.
  auto ok = R"({"type":"ping","x":)" + std::string(100, '[')
            + std::string(100, ']') + "}";
  BOOST_TEST(parse_command(ok).type == command_type::ping);
}

// -- parse_publish: accepted events -------------------------------------------

BOOST_AUTO_TEST_SUITE(parse_publish_accepts)

BOOST_AUTO_TEST_CASE(progress_update) {
  auto ev = accepted_event(
    R"({"type":"progress_update","stage":"stage_1","progress":50,)"
    R"("message":"Detecting walls...","estimated_seconds_remaining":15,)"
    R"("correlation_id":"c-1","event_id":"e-1"})",
    "job_20240115_abc123");
  BOOST_TEST(ev.type == event_type::progress_update);
  BOOST_TEST(ev.job_id == "job_20240115_abc123");
  BOOST_TEST(ev.seq == 0u);
  BOOST_TEST(ev.timestamp_ms == 0);
  BOOST_TEST(ev.stage == "stage_1");
  BOOST_TEST(ev.progress == 50.0);
  BOOST_TEST(ev.message == "Detecting walls...");
  BOOST_TEST(ev.has_eta);
  BOOST_TEST(ev.eta_seconds == 15.0);
  BOOST_TEST(ev.correlation_id == "c-1");
  BOOST_TEST(ev.event_id == "e-1");
  BOOST_TEST(ev.results == "{}");
}

BOOST_AUTO_TEST_CASE(progress_update_minimal) {
  auto ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":0})");
  BOOST_TEST(ev.stage == "s");
  BOOST_TEST(ev.progress == 0.0);
  BOOST_TEST(!std::signbit(ev.progress));
  BOOST_TEST(ev.message == "");
  BOOST_TEST(!ev.has_eta);
  BOOST_TEST(ev.correlation_id == "");
  BOOST_TEST(ev.event_id == "");
}

BOOST_AUTO_TEST_CASE(progress_update_bounds_and_eta) {
  auto ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":100,)"
    R"("estimated_seconds_remaining":null})");
  BOOST_TEST(ev.progress == 100.0);
  BOOST_TEST(!ev.has_eta);
  ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":100.0,)"
    R"("estimated_seconds_remaining":0})");
  BOOST_TEST(ev.progress == 100.0);
  BOOST_TEST(ev.has_eta);
  BOOST_TEST(ev.eta_seconds == 0.0);
  ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":12.5,)"
    R"("estimated_seconds_remaining":2.25})");
  BOOST_TEST(ev.progress == 12.5);
  BOOST_TEST(ev.eta_seconds == 2.25);
  ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":-0.0,)"
    R"("estimated_seconds_remaining":-0})");
  BOOST_TEST(ev.progress == 0.0);
  BOOST_TEST(!std::signbit(ev.progress));
  BOOST_TEST(!std::signbit(ev.eta_seconds));
  ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":1e1,)"
    R"("estimated_seconds_remaining":1E3})");
  BOOST_TEST(ev.progress == 10.0);
  BOOST_TEST(ev.eta_seconds == 1000.0);
}

BOOST_AUTO_TEST_CASE(stage_complete) {
  auto ev = accepted_event(
    R"({"type":"stage_complete","stage":"stage_1","results":{"rooms":[]}})");
  BOOST_TEST(ev.type == event_type::stage_complete);
  BOOST_TEST(ev.stage == "stage_1");
  BOOST_TEST(ev.results == R"({"rooms":[]})");
  ev = accepted_event(R"({"type":"stage_complete","stage":"stage_2"})");
  BOOST_TEST(ev.results == "{}");
}

BOOST_AUTO_TEST_CASE(job_complete) {
  auto ev = accepted_event(
    R"({"type":"job_complete","results":{"rooms":[],"count":0}})");
  BOOST_TEST(ev.type == event_type::job_complete);
  BOOST_TEST(ev.results == R"({"rooms":[],"count":0})");
  BOOST_TEST(ev.stage == "");
  ev = accepted_event(R"({"type":"job_complete"})");
  BOOST_TEST(ev.results == "{}");
  ev = accepted_event(R"({"type":"job_complete","results":{}})");
  BOOST_TEST(ev.results == "{}");
}

BOOST_AUTO_TEST_CASE(job_failed) {
  auto ev = accepted_event(
    R"({"type":"job_failed","error":{"code":"model_error",)"
    R"("message":"GPU out of memory","stage":"stage_2","extra":1}})");
  BOOST_TEST(ev.type == event_type::job_failed);
  BOOST_TEST(ev.error_code == "model_error");
  BOOST_TEST(ev.error_message == "GPU out of memory");
  BOOST_TEST(ev.error_stage == "stage_2");
  ev = accepted_event(
    R"({"type":"job_failed","error":{"code":"x","message":""}})");
  BOOST_TEST(ev.error_code == "x");
  BOOST_TEST(ev.error_message == "");
  BOOST_TEST(ev.error_stage == "");
}

BOOST_AUTO_TEST_CASE(job_cancelled) {
  auto ev = accepted_event(
    R"({"type":"job_cancelled","reason":"user request"})");
  BOOST_TEST(ev.type == event_type::job_cancelled);
  BOOST_TEST(ev.reason == "user request");
  ev = accepted_event(R"({"type":"job_cancelled"})");
  BOOST_TEST(ev.reason == "");
  ev = accepted_event(R"({"type":"job_cancelled","reason":""})");
  BOOST_TEST(ev.reason == "");
}

BOOST_AUTO_TEST_CASE(matching_body_job_id_and_ignored_fields) {
  auto ev = accepted_event(
    R"({"job_id":"job_1","type":"job_cancelled","seq":99,)"
    R"("timestamp":"2020-01-01T00:00:00.000Z","unknown":{"a":[1e999]}})");
  BOOST_TEST(ev.job_id == "job_1");
  BOOST_TEST(ev.seq == 0u);
  BOOST_TEST(ev.timestamp_ms == 0);
}

BOOST_AUTO_TEST_CASE(fields_of_other_types_are_ignored) {
  // `results` is not part of progress_update, so any value is ignored.
  auto ev = accepted_event(
    R"({"type":"progress_update","stage":"s","progress":1,"results":[1]})");
  BOOST_TEST(ev.results == "{}");
  ev = accepted_event(
    R"({"type":"job_complete","stage":5,"progress":"x","error":1})");
  BOOST_TEST(ev.stage == "");
  BOOST_TEST(ev.error_code == "");
}

BOOST_AUTO_TEST_CASE(ids_of_128_characters) {
  auto id = std::string(128, 'x');
  auto ev = accepted_event(R"({"type":"job_complete","correlation_id":)"
                           + json_string(id) + R"(,"event_id":)"
                           + json_string(id) + "}");
  BOOST_TEST(ev.correlation_id == id);
  BOOST_TEST(ev.event_id == id);
}

BOOST_AUTO_TEST_CASE(correlation_id_counts_characters_event_id_bytes) {
  // 100 characters of three bytes: a correlation id may be that long; an
  // event id, part of a storage key, may not (over 128 bytes).
  std::string id;
  for (int i = 0; i < 100; ++i)
    id += "\xe2\x82\xac"; // €
  auto ev = accepted_event(R"({"type":"job_complete","correlation_id":")" + id
                           + "\"}");
  BOOST_TEST(ev.correlation_id == id);
  auto res = parse_publish(R"({"type":"job_complete","event_id":")" + id
                             + "\"}",
                           "job_1");
  BOOST_REQUIRE(!res);
  BOOST_TEST(error_message(res.error())
             == "field 'event_id' must be a string of at most 128 bytes (in "
                "UTF-8)");
}

BOOST_AUTO_TEST_SUITE_END()

// -- results pass through -----------------------------------------------------

BOOST_AUTO_TEST_CASE(results_round_trip_verbatim) {
  auto body = std::string{
    "{ \"type\" : \"job_complete\" ,\n \"results\" : {\n"
    "   \"price\" : 1.50 ,\n"
    "   \"big\" : 12345678901234567890123 ,\n"
    "   \"neg_big\" : -98765432109876543210987654321 ,\n"
    "   \"precise\" : 0.1000000000000000055511151231257827 ,\n"
    "   \"huge\" : 1E+400 , \"tiny\" : 1e-400 , \"zero\" : -0.0 ,\n"
    "   \"text\" : \"  keep   inner\\tspaces \\\" \\\\ \\/ \" ,\n"
    "   \"esc\" : \"caf\\u00e9 \\ud83d\\ude00 \\u2028\" ,\n"
    "   \"utf8\" : \"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\" ,\n"
    "   \"arr\" : [ 1 , [ ] , { } , null , true , false , [ [ 2 ] ] ] ,\n"
    "   \"nested\" : { \"x\" : { \"y\" : [ { \"z\" : \"deep\" } ] } }\n"
    " } , \"trailing\" : 1 }"};
  auto expected = std::string{
    "{\"price\":1.50,"
    "\"big\":12345678901234567890123,"
    "\"neg_big\":-98765432109876543210987654321,"
    "\"precise\":0.1000000000000000055511151231257827,"
    "\"huge\":1E+400,\"tiny\":1e-400,\"zero\":-0.0,"
    "\"text\":\"  keep   inner\\tspaces \\\" \\\\ \\/ \","
    "\"esc\":\"caf\\u00e9 \\ud83d\\ude00 \\u2028\","
    "\"utf8\":\"\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\","
    "\"arr\":[1,[],{},null,true,false,[[2]]],"
    "\"nested\":{\"x\":{\"y\":[{\"z\":\"deep\"}]}}}"};
  auto ev = accepted_event(body);
  BOOST_TEST(ev.results == expected);
  // The encoded event carries the same text.
  ev.seq = 3;
  ev.timestamp_ms = t0;
  BOOST_TEST(encode_event(ev)
             == R"({"type":"job_complete","job_id":"job_1","seq":3,"results":)"
                  + expected + R"(,"timestamp":"2024-01-15T10:30:15.000Z"})");
  // And publishing the encoded event again changes nothing.
  auto again = accepted_event(encode_event(ev));
  BOOST_TEST(again.results == expected);
}

BOOST_AUTO_TEST_CASE(results_of_stage_complete_round_trip_verbatim) {
  auto ev = accepted_event(
    R"({"type":"stage_complete","stage":"s",)"
    R"("results":{"n" : 2.50e-3 , "a":[ ]}})");
  BOOST_TEST(ev.results == R"({"n":2.50e-3,"a":[]})");
}

BOOST_AUTO_TEST_CASE(results_found_by_escaped_key_first_match_wins) {
  auto ev = accepted_event(
    R"({"type":"job_complete","res\u0075lts":{"a":1},"results":{"b":2}})");
  BOOST_TEST(ev.results == R"({"a":1})");
  ev = accepted_event(
    R"({"type":"job_complete","x":{"results":{"inner":1}},)"
    R"("results":{"outer":2}})");
  BOOST_TEST(ev.results == R"({"outer":2})");
  ev = accepted_event(
    R"({"type":"job_complete","x":"\"results\":{\"s\":1}","results":{"o":2}})");
  BOOST_TEST(ev.results == R"({"o":2})");
}

// -- parse_publish: rejections ------------------------------------------------

BOOST_AUTO_TEST_CASE(parse_publish_rejects) {
  auto bad_job_id = "the job id " + job_id_rule;
  auto not_json = "the body is not valid JSON"s;
  auto not_object = "the body must be a JSON object"s;
  auto pu = R"({"type":"progress_update","stage":"s",)"s;
  auto bad_progress = "field 'progress' must be a number from 0 to 100"s;
  auto bad_eta
    = "field 'estimated_seconds_remaining' must be a number >= 0 or null"s;
  auto bad_results = "field 'results' must be a JSON object"s;
  auto bad_id = [](std::string_view name) {
    return "field '" + std::string{name}
           + "' must be a string of at most 128 characters";
  };
  auto long_id = json_string(std::string(129, 'x'));
  auto jc = R"({"type":"job_complete")"s;
  auto jf = R"({"type":"job_failed","error":)"s;
  std::vector<publish_rejection> cases{
    // The path's job id.
    {jc + "}", error_code::invalid_job_id, bad_job_id, ""},
    {jc + "}", error_code::invalid_job_id, bad_job_id, "job 1"},
    {jc + "}", error_code::invalid_job_id, bad_job_id, "a/b"},
    {jc + "}", error_code::invalid_job_id, bad_job_id, "j\xc3\xb6"},
    {jc + "}", error_code::invalid_job_id, bad_job_id, std::string(129, 'j')},
    {"not json", error_code::invalid_job_id, bad_job_id, "a b"},
    // Not JSON, not an object.
    {"", error_code::invalid_json, not_json + ": it is empty"},
    {"not json", error_code::invalid_json, not_json},
    {R"({"type":"job_complete")", error_code::invalid_json, not_json},
    {R"({"type":"job_complete","results":{"a":01}})", error_code::invalid_json,
     not_json},
    {R"({"type":"job_complete","results":{"a":1,}})", error_code::invalid_json,
     not_json},
    {R"({"type":"job_complete","results":{12345678901234567890123:1}})",
     error_code::invalid_json, not_json},
    {"[]", error_code::invalid_message, not_object},
    {R"([{"type":"job_complete"}])", error_code::invalid_message, not_object},
    {"3", error_code::invalid_message, not_object},
    // type
    {"{}", error_code::invalid_message, "field 'type' is required"},
    {R"({"type":4})", error_code::invalid_message,
     "field 'type' must be a string"},
    {R"({"type":"progress"})", error_code::unknown_type,
     "unknown event type 'progress'"},
    {R"({"type":"ping"})", error_code::unknown_type,
     "unknown event type 'ping'"},
    {R"({"type":"job complete"})", error_code::unknown_type,
     "unknown event type"},
    // job_id in the body
    {R"({"type":"job_complete","job_id":"job_2"})", error_code::invalid_message,
     "field 'job_id' does not match the job id in the path"},
    {R"({"type":"job_complete","job_id":"JOB_1"})", error_code::invalid_message,
     "field 'job_id' does not match the job id in the path"},
    {R"({"type":"job_complete","job_id":""})", error_code::invalid_message,
     "field 'job_id' does not match the job id in the path"},
    {R"({"type":"job_complete","job_id":7})", error_code::invalid_message,
     "field 'job_id' must be a string"},
    // progress_update
    {R"({"type":"progress_update","progress":5})", error_code::invalid_message,
     "field 'stage' is required"},
    {R"({"type":"progress_update","stage":5,"progress":5})",
     error_code::invalid_message, "field 'stage' must be a string"},
    {R"({"type":"progress_update","stage":"","progress":5})",
     error_code::invalid_message, "field 'stage' must be a non-empty string"},
    {pu + "\"message\":\"m\"}", error_code::invalid_message,
     "field 'progress' is required"},
    {pu + "\"progress\":-0.1}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":100.1}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":100.00000000001}", error_code::invalid_message,
     bad_progress},
    {pu + "\"progress\":-1}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":101}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":\"50\"}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":null}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":true}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":1e999}", error_code::invalid_message, bad_progress},
    {pu + "\"progress\":12345678901234567890123}", error_code::invalid_message,
     bad_progress},
    {pu + "\"progress\":5,\"message\":5}", error_code::invalid_message,
     "field 'message' must be a string"},
    {pu + "\"progress\":5,\"message\":null}", error_code::invalid_message,
     "field 'message' must be a string"},
    {pu + "\"progress\":5,\"estimated_seconds_remaining\":-1}",
     error_code::invalid_message, bad_eta},
    {pu + "\"progress\":5,\"estimated_seconds_remaining\":-0.001}",
     error_code::invalid_message, bad_eta},
    {pu + "\"progress\":5,\"estimated_seconds_remaining\":\"15\"}",
     error_code::invalid_message, bad_eta},
    {pu + "\"progress\":5,\"estimated_seconds_remaining\":false}",
     error_code::invalid_message, bad_eta},
    {pu + "\"progress\":5,\"estimated_seconds_remaining\":1e999}",
     error_code::invalid_message, bad_eta},
    // stage_complete and job_complete
    {R"({"type":"stage_complete","results":{}})", error_code::invalid_message,
     "field 'stage' is required"},
    {R"({"type":"stage_complete","stage":"","results":{}})",
     error_code::invalid_message, "field 'stage' must be a non-empty string"},
    {R"({"type":"stage_complete","stage":"s","results":[]})",
     error_code::invalid_message, bad_results},
    {R"({"type":"stage_complete","stage":"s","results":"{}"})",
     error_code::invalid_message, bad_results},
    {jc + R"(,"results":null})", error_code::invalid_message, bad_results},
    {jc + R"(,"results":5})", error_code::invalid_message, bad_results},
    {jc + R"(,"results":[{"a":1}]})", error_code::invalid_message, bad_results},
    {jc + R"(,"results":true})", error_code::invalid_message, bad_results},
    // job_failed
    {R"({"type":"job_failed"})", error_code::invalid_message,
     "field 'error' is required"},
    {jf + R"("boom"})", error_code::invalid_message,
     "field 'error' must be an object"},
    {jf + R"(null})", error_code::invalid_message,
     "field 'error' must be an object"},
    {jf + R"({"message":"m"}})", error_code::invalid_message,
     "field 'error.code' is required"},
    {jf + R"({"code":5,"message":"m"}})", error_code::invalid_message,
     "field 'error.code' must be a string"},
    {jf + R"({"code":"","message":"m"}})", error_code::invalid_message,
     "field 'error.code' must be a non-empty string"},
    {jf + R"({"code":"c"}})", error_code::invalid_message,
     "field 'error.message' is required"},
    {jf + R"({"code":"c","message":["m"]}})", error_code::invalid_message,
     "field 'error.message' must be a string"},
    {jf + R"({"code":"c","message":"m","stage":1}})",
     error_code::invalid_message, "field 'error.stage' must be a string"},
    // job_cancelled
    {R"({"type":"job_cancelled","reason":5})", error_code::invalid_message,
     "field 'reason' must be a string"},
    // correlation_id and event_id
    {jc + R"(,"correlation_id":)" + long_id + "}", error_code::invalid_message,
     bad_id("correlation_id")},
    {jc + R"(,"correlation_id":5})", error_code::invalid_message,
     bad_id("correlation_id")},
    {jc + R"(,"event_id":)" + long_id + "}", error_code::invalid_message,
     bad_id("event_id")},
    {jc + R"(,"event_id":null})", error_code::invalid_message,
     bad_id("event_id")},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT("input: " << c.body << " for job " << c.job_id) {
      auto res = parse_publish(c.body, c.job_id);
      BOOST_REQUIRE(!res);
      BOOST_TEST(to_error_code(res.error()) == c.code);
      BOOST_TEST(error_message(res.error()) == c.message);
    }
  }
}

// -- validate_event -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(validate_event_accepts_sample_events) {
  for (auto type : all_event_types) {
    BOOST_TEST_CONTEXT("type: " << to_string(type)) {
      BOOST_TEST(!validate_event(sample_event(type)));
    }
  }
  // Fields the type does not use are not checked.
  auto x = sample_event(event_type::progress_update);
  x.results = "not json";
  x.error_code = "";
  BOOST_TEST(!validate_event(x));
  x.has_eta = false;
  x.eta_seconds = -5;
  BOOST_TEST(!validate_event(x));
  // Boundaries.
  x.progress = 0;
  BOOST_TEST(!validate_event(x));
  x.progress = 100;
  BOOST_TEST(!validate_event(x));
  x.has_eta = true;
  x.eta_seconds = 0;
  BOOST_TEST(!validate_event(x));
}

BOOST_AUTO_TEST_CASE(validate_event_rejects) {
  using check = std::pair<job_event, std::pair<error_code, std::string>>;
  auto bad = [](event_type type, auto change, error_code code,
                std::string message) {
    auto x = sample_event(type);
    change(x);
    return check{x, {code, std::move(message)}};
  };
  auto pu = event_type::progress_update;
  auto bad_progress = "field 'progress' must be a number from 0 to 100"s;
  auto bad_eta
    = "field 'estimated_seconds_remaining' must be a number >= 0 or null"s;
  auto bad_results = "field 'results' must be a JSON object"s;
  auto nan = std::numeric_limits<double>::quiet_NaN();
  auto inf = std::numeric_limits<double>::infinity();
  auto im = error_code::invalid_message;
  std::vector<check> cases{
    bad(pu, [](job_event& x) { x.job_id = ""; }, error_code::invalid_job_id,
        "the job id " + job_id_rule),
    bad(event_type::job_cancelled,
        [](job_event& x) { x.job_id = std::string(129, 'a'); },
        error_code::invalid_job_id, "the job id " + job_id_rule),
    bad(pu, [](job_event& x) { x.job_id = "a b"; }, error_code::invalid_job_id,
        "the job id " + job_id_rule),
    bad(pu, [&](job_event& x) { x.progress = nan; }, im, bad_progress),
    bad(pu, [&](job_event& x) { x.progress = inf; }, im, bad_progress),
    bad(pu, [&](job_event& x) { x.progress = -0.1; }, im, bad_progress),
    bad(pu, [&](job_event& x) { x.progress = 100.1; }, im, bad_progress),
    bad(pu, [](job_event& x) { x.stage = ""; }, im,
        "field 'stage' must be a non-empty string"),
    bad(pu, [&](job_event& x) { x.eta_seconds = -1; }, im, bad_eta),
    bad(pu, [&](job_event& x) { x.eta_seconds = nan; }, im, bad_eta),
    bad(pu, [&](job_event& x) { x.eta_seconds = inf; }, im, bad_eta),
    bad(event_type::job_complete,
        [](job_event& x) { x.correlation_id = std::string(129, 'c'); }, im,
        "field 'correlation_id' must be a string of at most 128 characters"),
    bad(event_type::job_complete,
        [](job_event& x) { x.event_id = std::string(129, 'e'); }, im,
        "field 'event_id' must be a string of at most 128 bytes (in UTF-8)"),
    bad(event_type::stage_complete, [](job_event& x) { x.stage = ""; }, im,
        "field 'stage' must be a non-empty string"),
    bad(event_type::stage_complete, [](job_event& x) { x.results = "[]"; }, im,
        bad_results),
    bad(event_type::job_complete, [](job_event& x) { x.results = ""; }, im,
        bad_results + ": it is not valid JSON: it is empty"),
    bad(event_type::job_complete, [](job_event& x) { x.results = "{"; }, im,
        bad_results + ": it is not valid JSON"),
    bad(event_type::job_complete, [](job_event& x) { x.results = "{} {}"; },
        im, bad_results + ": it is not valid JSON"),
    bad(event_type::job_complete, [](job_event& x) { x.results = "null"; }, im,
        bad_results),
    bad(event_type::job_complete,
        [](job_event& x) { x.results = R"({"a":01})"; }, im,
        bad_results + ": it is not valid JSON"),
    // What is wrong is named, not "not an object" (CAF publishers' results
    // reach the server as text).
    bad(event_type::job_complete,
        [](job_event& x) {
          x.results = R"({"a":)" + std::string(5000, '[')
                      + std::string(5000, ']') + "}";
        },
        im, bad_results + ": it nests arrays and objects too deeply to be read"),
    bad(event_type::job_complete,
        [](job_event& x) { x.results = R"({"a":"\ud800"})"; }, im,
        bad_results
          + ": it is not valid JSON: it has a string with a bad escape or an "
            "unpaired surrogate"),
    bad(event_type::job_complete,
        [](job_event& x) { x.results = "{\"a\":\"\xff\"}"; }, im,
        bad_results + ": it is not valid JSON: it is not UTF-8"),
    bad(event_type::job_failed, [](job_event& x) { x.error_code = ""; }, im,
        "field 'error.code' must be a non-empty string"),
    bad(pu, [](job_event& x) { x.message = "bad \xff byte"; }, im,
        "field 'message' must be valid UTF-8"),
    bad(event_type::job_cancelled,
        [](job_event& x) { x.reason = "cut \xe2\x82"; }, im,
        "field 'reason' must be valid UTF-8"),
    bad(event_type::job_failed,
        [](job_event& x) { x.error_message = "\xc0\xaf"; }, im,
        "field 'error.message' must be valid UTF-8"),
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    BOOST_TEST_CONTEXT("case " << i) {
      auto err = validate_event(cases[i].first);
      BOOST_REQUIRE(err);
      BOOST_TEST(to_error_code(err) == cases[i].second.first);
      BOOST_TEST(error_message(err) == cases[i].second.second);
    }
  }
}

BOOST_AUTO_TEST_CASE(validate_event_accepts_big_numbers_in_results) {
  auto x = sample_event(event_type::job_complete);
  x.results = R"({ "n" : 123456789012345678901234567890, "m" : 1e999 })";
  BOOST_TEST(!validate_event(x));
}

// -- encoders: exact frames ---------------------------------------------------

BOOST_AUTO_TEST_CASE(encode_progress_update) {
  BOOST_TEST(
    encode_event(sample_event(event_type::progress_update))
    == R"({"type":"progress_update","job_id":"job_20240115_abc123","seq":7,)"
       R"("stage":"stage_1","progress":50,"message":"Detecting walls...",)"
       R"("estimated_seconds_remaining":15,)"
       R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  job_event x;
  x.job_id = "job_1";
  x.seq = 1;
  x.timestamp_ms = t0 + 123;
  x.stage = "s";
  x.progress = 12.5;
  x.message = "";
  x.has_eta = false;
  x.correlation_id = "corr-1";
  x.event_id = "not-sent";
  BOOST_TEST(encode_event(x)
             == R"({"type":"progress_update","job_id":"job_1","seq":1,)"
                R"("stage":"s","progress":12.5,"message":"",)"
                R"("estimated_seconds_remaining":null,)"
                R"("correlation_id":"corr-1",)"
                R"("timestamp":"2024-01-15T10:30:15.123Z"})");
  x.has_eta = true;
  x.eta_seconds = 2.25;
  x.progress = 100;
  x.correlation_id = "";
  BOOST_TEST(encode_event(x)
             == R"({"type":"progress_update","job_id":"job_1","seq":1,)"
                R"("stage":"s","progress":100,"message":"",)"
                R"("estimated_seconds_remaining":2.25,)"
                R"("timestamp":"2024-01-15T10:30:15.123Z"})");
}

BOOST_AUTO_TEST_CASE(encode_stage_complete) {
  auto x = sample_event(event_type::stage_complete);
  x.results = R"({"rooms":[]})";
  x.seq = 8;
  x.timestamp_ms = 1705314620000;
  BOOST_TEST(encode_event(x)
             == R"({"type":"stage_complete","job_id":"job_20240115_abc123",)"
                R"("seq":8,"stage":"stage_1","results":{"rooms":[]},)"
                R"("timestamp":"2024-01-15T10:30:20.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_job_complete) {
  auto x = sample_event(event_type::job_complete);
  x.results = R"({"rooms":[]})";
  x.seq = 9;
  x.timestamp_ms = 1705314645000;
  x.correlation_id = "c";
  BOOST_TEST(encode_event(x)
             == R"({"type":"job_complete","job_id":"job_20240115_abc123",)"
                R"("seq":9,"results":{"rooms":[]},"correlation_id":"c",)"
                R"("timestamp":"2024-01-15T10:30:45.000Z"})");
  // An empty `results` still makes valid JSON.
  x.results = "";
  x.correlation_id = "";
  BOOST_TEST(encode_event(x)
             == R"({"type":"job_complete","job_id":"job_20240115_abc123",)"
                R"("seq":9,"results":{},)"
                R"("timestamp":"2024-01-15T10:30:45.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_job_failed) {
  auto x = sample_event(event_type::job_failed);
  BOOST_TEST(encode_event(x)
             == R"({"type":"job_failed","job_id":"job_20240115_abc123",)"
                R"("seq":7,"error":{"code":"model_error",)"
                R"("message":"Model \"v2\" failed","stage":"stage_2"},)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  x.error_stage = "";
  x.error_message = "";
  BOOST_TEST(encode_event(x)
             == R"({"type":"job_failed","job_id":"job_20240115_abc123",)"
                R"("seq":7,"error":{"code":"model_error","message":""},)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_job_cancelled) {
  auto x = sample_event(event_type::job_cancelled);
  BOOST_TEST(encode_event(x)
             == R"({"type":"job_cancelled","job_id":"job_20240115_abc123",)"
                R"("seq":7,"reason":"user request",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  x.reason = "";
  BOOST_TEST(encode_event(x)
             == R"({"type":"job_cancelled","job_id":"job_20240115_abc123",)"
                R"("seq":7,"reason":"",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

namespace {

job_snapshot pending_snapshot() {
  job_snapshot x;
  x.job_id = "job_1";
  return x;
}

job_snapshot running_snapshot() {
  job_snapshot x;
  x.job_id = "job_1";
  x.status = job_status::running;
  x.stage = "stage_1";
  x.progress = 50;
  x.message = "Detecting \"walls\"...";
  x.has_eta = true;
  x.eta_seconds = 15;
  x.cancel_requested = true;
  x.last_seq = 7;
  x.updated_at_ms = t0;
  return x;
}

const std::string pending_fields
  = R"("job_id":"job_1","status":"pending","stage":"","progress":0,)"
    R"("message":"","estimated_seconds_remaining":null,)"
    R"("cancel_requested":false,"last_seq":0,"updated_at":null)";

const std::string running_fields
  = R"("job_id":"job_1","status":"running","stage":"stage_1","progress":50,)"
    R"("message":"Detecting \"walls\"...","estimated_seconds_remaining":15,)"
    R"("cancel_requested":true,"last_seq":7,)"
    R"("updated_at":"2024-01-15T10:30:15.000Z")";

} // namespace

BOOST_AUTO_TEST_CASE(encode_snapshots) {
  BOOST_TEST(encode_snapshot(pending_snapshot()) == "{" + pending_fields + "}");
  BOOST_TEST(encode_snapshot(running_snapshot()) == "{" + running_fields + "}");
  std::pair<job_status, std::string> statuses[] = {
    {job_status::pending, "pending"},     {job_status::running, "running"},
    {job_status::completed, "completed"}, {job_status::failed, "failed"},
    {job_status::cancelled, "cancelled"},
  };
  for (auto& [status, name] : statuses) {
    auto x = pending_snapshot();
    x.status = status;
    simdjson::dom::parser parser;
    auto doc = parser.parse(encode_snapshot(x));
    BOOST_TEST(str(doc["status"].value()) == name);
  }
}

BOOST_AUTO_TEST_CASE(encode_connected_frame) {
  BOOST_TEST(encode_connected("conn_1700000000000_9f86d081884c7d65", 25,
                              1705314600000)
             == R"({"type":"connected",)"
                R"("connection_id":"conn_1700000000000_9f86d081884c7d65",)"
                R"("heartbeat_seconds":25,)"
                R"("timestamp":"2024-01-15T10:30:00.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_subscribed_frame) {
  BOOST_TEST(encode_subscribed(pending_snapshot(), {}, t0)
             == R"({"type":"subscribed","job_id":"job_1","status":{)"
                  + pending_fields
                  + R"(},"timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_subscribed(running_snapshot(), "r1", t0)
             == R"({"type":"subscribed","job_id":"job_1","status":{)"
                  + running_fields
                  + R"(},"request_id":"r1",)"
                    R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_job_status_frame) {
  BOOST_TEST(encode_job_status(running_snapshot(), {}, t0)
             == R"({"type":"job_status",)" + running_fields
                  + R"(,"timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_job_status(pending_snapshot(), "q\"1", t0)
             == R"({"type":"job_status",)" + pending_fields
                  + R"(,"request_id":"q\"1",)"
                    R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_unsubscribed_frame) {
  BOOST_TEST(encode_unsubscribed("job_1", {}, t0)
             == R"({"type":"unsubscribed","job_id":"job_1",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_unsubscribed("job_1", "u1", t0)
             == R"({"type":"unsubscribed","job_id":"job_1","request_id":"u1",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_cancel_requested_frame) {
  BOOST_TEST(encode_cancel_requested("job_1", {}, t0)
             == R"({"type":"cancel_requested","job_id":"job_1",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_cancel_requested("job_1", "c1", t0)
             == R"({"type":"cancel_requested","job_id":"job_1",)"
                R"("request_id":"c1","timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_pong_frame) {
  BOOST_TEST(encode_pong({}, t0)
             == R"({"type":"pong","timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_pong("p1", t0)
             == R"({"type":"pong","request_id":"p1",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_error_frame) {
  BOOST_TEST(encode_error(error_code::job_not_found, "job 'job_1' not found",
                          {}, "", t0)
             == R"({"type":"error","code":"job_not_found",)"
                R"("message":"job 'job_1' not found",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_error(error_code::invalid_message,
                          "field 'since_seq' must be an integer >= 0", "r9",
                          "job_1", t0)
             == R"({"type":"error","code":"invalid_message",)"
                R"("message":"field 'since_seq' must be an integer >= 0",)"
                R"("job_id":"job_1","request_id":"r9",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
  BOOST_TEST(encode_error(error_code::invalid_json, "a \"quoted\"\nline\\",
                          {}, "", t0)
             == R"({"type":"error","code":"invalid_json",)"
                R"("message":"a \"quoted\"\nline\\",)"
                R"("timestamp":"2024-01-15T10:30:15.000Z"})");
}

BOOST_AUTO_TEST_CASE(encode_error_frame_for_every_code) {
  std::pair<error_code, std::string> codes[] = {
    {error_code::invalid_json, "invalid_json"},
    {error_code::invalid_message, "invalid_message"},
    {error_code::unknown_type, "unknown_type"},
    {error_code::invalid_job_id, "invalid_job_id"},
    {error_code::job_not_found, "job_not_found"},
    {error_code::job_finished, "job_finished"},
    {error_code::unauthorized, "unauthorized"},
    {error_code::rate_limited, "rate_limited"},
    {error_code::too_many_subscriptions, "too_many_subscriptions"},
    {error_code::message_too_large, "message_too_large"},
    {error_code::connection_not_found, "connection_not_found"},
    {error_code::storage_full, "storage_full"},
    {error_code::internal, "internal"},
  };
  for (auto& [code, name] : codes) {
    BOOST_TEST(encode_error(code, "m", {}, "", 0)
               == R"({"type":"error","code":")" + name
                    + R"(","message":"m",)"
                      R"("timestamp":"1970-01-01T00:00:00.000Z"})");
    BOOST_TEST(encode_http_error(code, "m")
               == R"({"code":")" + name + R"(","message":"m"})");
  }
}

BOOST_AUTO_TEST_CASE(encode_http_bodies) {
  BOOST_TEST(encode_http_error(error_code::job_finished,
                               "job 'job_1' has finished")
             == R"({"code":"job_finished",)"
                R"("message":"job 'job_1' has finished"})");
  BOOST_TEST(encode_publish_ack("job_1", 42)
             == R"({"job_id":"job_1","seq":42})");
  BOOST_TEST(encode_publish_ack("job_1", std::numeric_limits<uint64_t>::max())
             == R"({"job_id":"job_1","seq":18446744073709551615})");
  BOOST_TEST(encode_connections("job_1", {})
             == R"({"job_id":"job_1","connections":[]})");
  BOOST_TEST(encode_connections("job_1", {"conn_1_00000000000000aa"})
             == R"({"job_id":"job_1",)"
                R"("connections":["conn_1_00000000000000aa"]})");
  BOOST_TEST(
    encode_connections("job_1", {"conn_1_00000000000000aa", "a\"b",
                                 "conn_2_00000000000000bb"})
    == R"({"job_id":"job_1","connections":["conn_1_00000000000000aa","a\"b",)"
       R"("conn_2_00000000000000bb"]})");
}

// -- round trips through simdjson ---------------------------------------------

BOOST_AUTO_TEST_CASE(encoded_events_read_back_with_simdjson) {
  simdjson::dom::parser parser;
  for (auto type : all_event_types) {
    BOOST_TEST_CONTEXT("type: " << to_string(type)) {
      auto x = sample_event(type);
      // simdjson's DOM cannot hold the sample's 23-digit number.
      if (type == event_type::stage_complete)
        x.results = R"({"rooms":[{"area":12.5,"id":7}]})";
      x.correlation_id = "corr \"7\"";
      auto text = encode_event(x);
      simdjson::dom::object obj;
      BOOST_REQUIRE(parser.parse(text).get(obj) == simdjson::SUCCESS);
      BOOST_TEST(str(obj["type"].value()) == to_string(type));
      BOOST_TEST(str(obj["job_id"].value()) == x.job_id);
      BOOST_TEST(obj["seq"].get_uint64().value() == x.seq);
      BOOST_TEST(str(obj["timestamp"].value()) == "2024-01-15T10:30:15.000Z");
      BOOST_TEST(str(obj["correlation_id"].value()) == x.correlation_id);
      BOOST_TEST(obj["event_id"].error() == simdjson::NO_SUCH_FIELD);
      // The order of the keys: type, job_id, seq first; timestamp last.
      std::vector<std::string> keys;
      for (auto [key, value] : obj)
        keys.emplace_back(key);
      BOOST_REQUIRE(keys.size() >= 5u);
      BOOST_TEST(keys[0] == "type");
      BOOST_TEST(keys[1] == "job_id");
      BOOST_TEST(keys[2] == "seq");
      BOOST_TEST(keys[keys.size() - 2] == "correlation_id");
      BOOST_TEST(keys.back() == "timestamp");
      switch (type) {
        case event_type::progress_update:
          BOOST_TEST(keys.size() == 9u);
          BOOST_TEST(str(obj["stage"].value()) == x.stage);
          BOOST_TEST(obj["progress"].get_double().value() == x.progress);
          BOOST_TEST(str(obj["message"].value()) == x.message);
          BOOST_TEST(
            obj["estimated_seconds_remaining"].get_double().value()
            == x.eta_seconds);
          break;
        case event_type::stage_complete:
          BOOST_TEST(keys.size() == 7u);
          BOOST_TEST(str(obj["stage"].value()) == x.stage);
          BOOST_TEST(printed(obj["results"].value()) == x.results);
          break;
        case event_type::job_complete:
          BOOST_TEST(keys.size() == 6u);
          BOOST_TEST(printed(obj["results"].value()) == x.results);
          break;
        case event_type::job_failed: {
          BOOST_TEST(keys.size() == 6u);
          simdjson::dom::object err = obj["error"];
          BOOST_TEST(str(err["code"].value()) == x.error_code);
          BOOST_TEST(str(err["message"].value()) == x.error_message);
          BOOST_TEST(str(err["stage"].value()) == x.error_stage);
          break;
        }
        case event_type::job_cancelled:
          BOOST_TEST(keys.size() == 6u);
          BOOST_TEST(str(obj["reason"].value()) == x.reason);
          break;
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(encoded_events_publish_back_unchanged) {
  for (auto type : all_event_types) {
    BOOST_TEST_CONTEXT("type: " << to_string(type)) {
      auto x = sample_event(type);
      x.correlation_id = "c-1";
      auto y = accepted_event(encode_event(x), x.job_id);
      BOOST_TEST(y.type == x.type);
      BOOST_TEST(y.job_id == x.job_id);
      BOOST_TEST(y.seq == 0u);
      BOOST_TEST(y.timestamp_ms == 0);
      BOOST_TEST(y.stage == x.stage);
      BOOST_TEST(y.progress == x.progress);
      BOOST_TEST(y.message == x.message);
      BOOST_TEST(y.has_eta == x.has_eta);
      BOOST_TEST(y.eta_seconds == x.eta_seconds);
      BOOST_TEST(y.results == x.results);
      BOOST_TEST(y.error_code == x.error_code);
      BOOST_TEST(y.error_message == x.error_message);
      BOOST_TEST(y.error_stage == x.error_stage);
      BOOST_TEST(y.reason == x.reason);
      BOOST_TEST(y.correlation_id == x.correlation_id);
    }
  }
}

BOOST_AUTO_TEST_CASE(strings_are_escaped_and_round_trip) {
  // Every control character, quotes, backslash, DEL, UTF-8 of 2, 3 and 4
  // bytes, and the two JavaScript line terminators.
  std::string text;
  for (int c = 0; c < 0x20; ++c)
    text += static_cast<char>(c);
  text += "\"\\/\x7f";
  text += "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80";
  text += "\xe2\x80\xa8\xe2\x80\xa9";
  auto x = sample_event(event_type::progress_update);
  x.message = text;
  auto encoded = encode_event(x);
  auto expected_message
    = R"("message":")"
      R"(\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r)"
      R"(\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018)"
      R"(\u0019\u001a\u001b\u001c\u001d\u001e\u001f\"\\/\u007f)"
      "\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80"
      R"(\u2028\u2029")"s;
  BOOST_TEST(encoded.find(expected_message) != std::string::npos);
  BOOST_TEST(std::all_of(encoded.begin(), encoded.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20;
  }));
  BOOST_TEST(encoded.find("\xe2\x80\xa8") == std::string::npos);
  BOOST_TEST(encoded.find("\xe2\x80\xa9") == std::string::npos);
  // simdjson reads the original back.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  BOOST_REQUIRE(parser.parse(encoded).get(doc) == simdjson::SUCCESS);
  BOOST_TEST(str(doc["message"].value()) == text);
  // And so does the codec.
  auto y = accepted_event(encoded, x.job_id);
  BOOST_TEST(y.message == text);
}

BOOST_AUTO_TEST_CASE(commands_read_escaped_strings) {
  auto cmd = parse_command(
    R"({"type":"cancel_job","job_id":"job_1",)"
    R"("reason":"\u0000\u001f\"\\\/\b\f\n\r\t\u00e9\u2028\ud83d\ude00"})");
  BOOST_TEST(cmd.type == command_type::cancel_job);
  BOOST_TEST(cmd.reason
             == "\0\x1f\"\\/\b\f\n\r\t\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80"s);
}
