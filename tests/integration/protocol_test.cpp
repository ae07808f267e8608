#define BOOST_TEST_MODULE protocol
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"
#include "server_fixture.hpp"
#include "wire_checks.hpp"
#include "ws_client.hpp"

using namespace jobwire::test;
using namespace std::chrono_literals;

namespace {

struct fixture : server_fixture {
  fixture() : http(port()) {
    // nop
  }

  http_client http;

  // A progress_update with "step N" as the message.
  static std::string step(int n) {
    return progress_event("stage_1", n, "step " + std::to_string(n), 100.0 - n);
  }

  // Publishes steps first..last to `job`, which makes them seqs first..last.
  void publish_steps(const std::string& job, int first, int last) {
    for (int i = first; i <= last; ++i)
      publish(http, job, step(i));
  }

  // The next frames are the progress_updates of steps first..last.
  static void expect_steps(ws_client& ws, const std::string& job, int first,
                           int last) {
    for (int i = first; i <= last; ++i)
      check_progress_update(ws.read_json(), job, i, "stage_1", i,
                            "step " + std::to_string(i), 100.0 - i);
  }

  // Nothing else came before the answer to a ping.
  static void expect_no_more(ws_client& ws) {
    auto extra = ping_barrier(ws);
    BOOST_TEST(extra.empty(), "unexpected frame: " << describe(extra));
  }

  // The connection ids GET /v1/jobs/{id}/connections lists.
  std::vector<std::string> connections(const std::string& job_id) {
    auto res = http.get(job_path(job_id) + "/connections");
    BOOST_REQUIRE_MESSAGE(res.status == 200, res.to_string());
    auto body = res.json();
    check_keys(body, {"job_id", "connections"});
    check_string(body, "job_id", job_id);
    std::vector<std::string> result;
    for (auto& x : body["connections"].as_array())
      result.push_back(x.as_string());
    return result;
  }

  bool lists(const std::string& job_id, const std::string& connection_id) {
    auto xs = connections(job_id);
    return std::find(xs.begin(), xs.end(), connection_id) != xs.end();
  }
};

// No frame arrives within a short quiet period.
void check_quiet(ws_client& ws, std::chrono::milliseconds period = 300ms) {
  auto frame = ws.read_frame(period);
  BOOST_TEST(!frame.has_value(),
             "unexpected frame: " << (frame ? frame->payload : ""));
}

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(protocol, fixture)

BOOST_AUTO_TEST_CASE(connected_frame_has_the_documented_fields) {
  auto before = unix_now_ms();
  ws_client ws;
  ws.connect(port());
  auto hello = ws.read_json();
  auto after = unix_now_ms();
  check_keys(hello,
             {"type", "connection_id", "heartbeat_seconds", "timestamp"});
  check_string(hello, "type", "connected");
  check_timestamp(hello);
  BOOST_REQUIRE(hello.contains("connection_id"));
  auto id = hello["connection_id"].as_string();
  BOOST_TEST(is_connection_id(id), "connection_id " << id);
  // conn_{unix_milliseconds}_...: the time of the connect.
  auto ms = std::strtoll(id.c_str() + 5, nullptr, 10);
  BOOST_TEST(ms >= before - 1000,
             "connection_id time " << ms << " < " << before);
  BOOST_TEST(ms <= after + 1000, "connection_id time " << ms << " > " << after);
  auto& heartbeat = hello["heartbeat_seconds"];
  BOOST_TEST((heartbeat.is_integer() && heartbeat.as_int() > 0),
             "heartbeat_seconds " << heartbeat);
  // Every connection gets its own id.
  std::string other_id;
  auto other = open_ws(port(), &other_id);
  BOOST_TEST(other_id != id);
}

BOOST_AUTO_TEST_CASE(subscribe_to_unpublished_job_gives_pending_snapshot) {
  auto job = unique_job_id("pending");
  auto ws = open_ws(port());
  ws.send_text(R"({"type":"subscribe","job_id":)" + q(job)
               + R"(,"request_id":"r-sub"})");
  auto reply = ws.read_json();
  check_keys(reply, {"type", "job_id", "status", "timestamp", "request_id"});
  check_string(reply, "type", "subscribed");
  check_string(reply, "job_id", job);
  check_string(reply, "request_id", "r-sub");
  check_timestamp(reply);
  BOOST_REQUIRE(reply.contains("status"));
  check_snapshot(reply["status"],
                 {job, "pending", "", 0, "", std::nullopt, false, 0});
  // Subscribing does not create the job.
  check_http_error(http.get(job_path(job)), 404, "job_not_found");
}

BOOST_AUTO_TEST_CASE(job_events_arrive_in_the_wire_format) {
  auto job = unique_job_id("wire");
  auto ws = open_ws(port());
  subscribe(ws, job);
  // progress_update with a publisher ETA
  auto seq = publish(http, job,
                     progress_event("stage_1", 50, "Detecting walls...", 15));
  BOOST_TEST(seq == 1);
  check_progress_update(ws.read_json(), job, 1, "stage_1", 50,
                        "Detecting walls...", 15);
  // progress_update with a fractional progress and a correlation_id
  seq = publish(http, job,
                progress_event("stage_2", 62.5, "Naming rooms", 7.5,
                               R"(,"correlation_id":"corr-42")"));
  BOOST_TEST(seq == 2);
  check_progress_update(ws.read_json(), job, 2, "stage_2", 62.5, "Naming rooms",
                        7.5, "corr-42");
  // stage_complete passes results through unchanged
  auto results = R"({"rooms":[{"name":"kitchen","area":12.5,"doors":2,)"
                 R"("tags":["a","b"],"ok":true,"none":null}],)"
                 R"("text":"\u00e9 \u2713 \"q\" \\ \n \t","count":3,)"
                 R"("nested":{"empty":{},"list":[]}})";
  seq = publish(http, job, stage_complete_event("stage_2", results));
  BOOST_TEST(seq == 3);
  check_stage_complete(ws.read_json(), job, 3, "stage_2", results);
  // job_complete with a correlation_id
  seq = publish(
    http, job,
    job_complete_event(R"({"rooms":[]})", R"(,"correlation_id":"corr-43")"));
  BOOST_TEST(seq == 4);
  check_job_complete(ws.read_json(), job, 4, R"({"rooms":[]})", "corr-43");
  // The job is finished.
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  auto snapshot = res.json();
  check_keys(snapshot, {"job_id", "status", "stage", "progress", "message",
                        "estimated_seconds_remaining", "cancel_requested",
                        "last_seq", "updated_at"});
  check_string(snapshot, "job_id", job);
  check_string(snapshot, "status", "completed");
  check_bool(snapshot, "cancel_requested", false);
  check_int(snapshot, "last_seq", 4);
  check_timestamp(snapshot, "updated_at");
}

BOOST_AUTO_TEST_CASE(job_failed_arrives_in_the_wire_format) {
  auto job = unique_job_id("failed");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish(http, job, progress_event("stage_1", 10, "working", 30));
  ws.read_json();
  publish(http, job,
          job_failed_event("model_error", "the model broke", "stage_1"));
  auto frame = ws.read_json();
  check_event_common(frame, "job_failed", job, 2, {});
  check_keys(frame, {"type", "job_id", "seq", "error", "timestamp"});
  check_json(frame, "error",
             json_value::parse(R"({"code":"model_error",)"
                               R"("message":"the model broke",)"
                               R"("stage":"stage_1"})"));
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "failed");
  check_int(res.json(), "last_seq", 2);
  // The stage of an error is optional.
  auto other = unique_job_id("failed");
  subscribe(ws, other);
  publish(http, other, job_failed_event("oom", "out of memory"));
  frame = ws.read_json();
  check_event_common(frame, "job_failed", other, 1, {});
  check_json(frame, "error",
             json_value::parse(R"({"code":"oom","message":"out of memory"})"));
}

BOOST_AUTO_TEST_CASE(published_job_cancelled_arrives_in_the_wire_format) {
  auto job = unique_job_id("pubcancel");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish(http, job, progress_event("stage_1", 10, "working", 30));
  ws.read_json();
  publish(http, job, job_cancelled_event("worker gave up"));
  check_job_cancelled(ws.read_json(), job, 2, "worker gave up");
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "cancelled");
}

BOOST_AUTO_TEST_CASE(replies_echo_request_id_and_omit_it_otherwise) {
  auto job = unique_job_id("echo");
  auto ws = open_ws(port());
  // ping
  ws.send_text(R"({"type":"ping","request_id":"p-1"})");
  auto pong = ws.read_json();
  check_keys(pong, {"type", "timestamp", "request_id"});
  check_string(pong, "type", "pong");
  check_string(pong, "request_id", "p-1");
  check_timestamp(pong);
  ws.send_text(R"({"type":"ping"})");
  pong = ws.read_json();
  check_keys(pong, {"type", "timestamp"});
  check_string(pong, "type", "pong");
  // subscribe without request_id
  ws.send_text(R"({"type":"subscribe","job_id":)" + q(job) + "}");
  auto reply = ws.read_json();
  check_keys(reply, {"type", "job_id", "status", "timestamp"});
  check_string(reply, "type", "subscribed");
  // unsubscribe, with and without request_id
  ws.send_text(R"({"type":"unsubscribe","job_id":)" + q(job)
               + R"(,"request_id":"u-1"})");
  reply = ws.read_json();
  check_keys(reply, {"type", "job_id", "timestamp", "request_id"});
  check_string(reply, "type", "unsubscribed");
  check_string(reply, "job_id", job);
  check_string(reply, "request_id", "u-1");
  check_timestamp(reply);
  ws.send_text(R"({"type":"unsubscribe","job_id":)" + q(job) + "}");
  reply = ws.read_json();
  check_keys(reply, {"type", "job_id", "timestamp"});
  check_string(reply, "type", "unsubscribed");
  // A request_id of 128 characters is fine.
  std::string long_id(128, 'r');
  ws.send_text(R"({"type":"ping","request_id":)" + q(long_id) + "}");
  pong = ws.read_json();
  check_string(pong, "type", "pong");
  check_string(pong, "request_id", long_id);
  // "" is a request_id the command had: echoed, not dropped as absent.
  ws.send_text(R"({"type":"ping","request_id":""})");
  pong = ws.read_json();
  check_keys(pong, {"type", "timestamp", "request_id"});
  check_string(pong, "request_id", "");
  ws.send_text(R"({"type":"subscribe","job_id":"bad id","request_id":""})");
  auto refused = ws.read_json();
  check_string(refused, "type", "error");
  check_string(refused, "request_id", "");
}

BOOST_AUTO_TEST_CASE(server_estimates_eta_when_publisher_leaves_it_out) {
  auto job = unique_job_id("eta");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish(http, job, progress_event("stage_1", 10, "first"));
  auto first = ws.read_json();
  // One point: no rate yet.
  check_progress_update(first, job, 1, "stage_1", 10, "first", std::nullopt);
  // Let time pass so that the two points give a rate.
  std::this_thread::sleep_for(200ms);
  publish(http, job, progress_event("stage_1", 30, "second"));
  auto second = ws.read_json();
  check_event_common(second, "progress_update", job, 2, {});
  check_keys(second, {"type", "job_id", "seq", "stage", "progress", "message",
                      "estimated_seconds_remaining", "timestamp"});
  auto eta = second.find("estimated_seconds_remaining");
  BOOST_TEST_REQUIRE(eta != nullptr);
  BOOST_TEST((eta->is_number() && eta->as_number() >= 0),
             "expected a server estimate >= 0 after two points: " << second);
  // 20 points in ~0.2 s leaves 70 points: a few seconds at most.
  if (eta->is_number())
    BOOST_TEST(eta->as_number() <= 60.0, "implausible estimate " << second);
  // The snapshot carries the estimate too.
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  auto snap_eta_body = res.json(); // find() points into it
  auto snap_eta = snap_eta_body.find("estimated_seconds_remaining");
  BOOST_TEST((snap_eta != nullptr && snap_eta->is_number()),
             "snapshot ETA: " << res.body);
}

BOOST_AUTO_TEST_CASE(an_eta_given_as_null_stays_unknown) {
  // PROTOCOL.md: null is "unknown"; only an ETA left out is estimated. A
  // null was replaced by the server's estimate.
  auto job = unique_job_id("eta_null");
  auto ws = open_ws(port());
  subscribe(ws, job);
  std::string null_eta = R"(,"estimated_seconds_remaining":null)";
  publish(http, job, progress_event("stage_1", 10, "first", std::nullopt,
                                    null_eta));
  check_progress_update(ws.read_json(), job, 1, "stage_1", 10, "first",
                        std::nullopt);
  std::this_thread::sleep_for(200ms);
  // Two points give a rate, as in the test above; null still wins.
  publish(http, job, progress_event("stage_1", 30, "second", std::nullopt,
                                    null_eta));
  check_progress_update(ws.read_json(), job, 2, "stage_1", 30, "second",
                        std::nullopt);
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  auto body = res.json();
  auto eta = body.find("estimated_seconds_remaining");
  BOOST_TEST((eta != nullptr && eta->is_null()), "snapshot: " << res.body);
  // Left out again, the estimate comes back.
  std::this_thread::sleep_for(200ms);
  publish(http, job, progress_event("stage_1", 50, "third"));
  auto third = ws.read_json();
  auto third_eta = third.find("estimated_seconds_remaining");
  BOOST_TEST((third_eta != nullptr && third_eta->is_number()),
             "left out after nulls: " << third);
}

BOOST_AUTO_TEST_CASE(two_connections_on_one_job_get_the_same_events) {
  auto job = unique_job_id("two");
  auto a = open_ws(port());
  auto b = open_ws(port());
  subscribe(a, job);
  subscribe(b, job);
  for (int i = 1; i <= 3; ++i)
    BOOST_TEST(publish(http, job, step(i)) == i);
  for (int i = 1; i <= 3; ++i) {
    auto x = a.read_json();
    auto y = b.read_json();
    check_progress_update(x, job, i, "stage_1", i, "step " + std::to_string(i),
                          100.0 - i);
    BOOST_TEST((x == y), "a got " << x << ", b got " << y);
  }
}

BOOST_AUTO_TEST_CASE(since_seq_replays_stored_events_then_live_ones) {
  auto job = unique_job_id("replay");
  publish_steps(job, 1, 5);
  auto ws = open_ws(port());
  auto reply = subscribe(ws, job, 2);
  BOOST_REQUIRE(reply.contains("status"));
  check_snapshot(reply["status"],
                 {job, "running", "stage_1", 5, "step 5", 95.0, false, 5});
  expect_steps(ws, job, 3, 5);
  publish(http, job, step(6));
  check_progress_update(ws.read_json(), job, 6, "stage_1", 6, "step 6", 94);
}

BOOST_AUTO_TEST_CASE(since_seq_zero_replays_everything) {
  auto job = unique_job_id("replay0");
  publish_steps(job, 1, 3);
  auto ws = open_ws(port());
  subscribe(ws, job, 0);
  expect_steps(ws, job, 1, 3);
  expect_no_more(ws);
}

BOOST_AUTO_TEST_CASE(since_seq_past_the_last_event_replays_nothing) {
  auto job = unique_job_id("replaynone");
  publish_steps(job, 1, 3);
  auto ws = open_ws(port());
  subscribe(ws, job, 10);
  expect_no_more(ws);
  check_quiet(ws);
  // since_seq equal to the last seq: nothing replayed, live events follow.
  auto other = open_ws(port());
  subscribe(other, job, 3);
  publish(http, job, step(4));
  check_progress_update(other.read_json(), job, 4, "stage_1", 4, "step 4", 96);
}

BOOST_AUTO_TEST_CASE(subscribe_without_since_seq_sends_only_live_events) {
  auto job = unique_job_id("live");
  publish(http, job, step(1));
  publish(http, job, step(2));
  auto ws = open_ws(port());
  auto reply = subscribe(ws, job);
  check_snapshot(reply["status"],
                 {job, "running", "stage_1", 2, "step 2", 98.0, false, 2});
  publish(http, job, step(3));
  check_progress_update(ws.read_json(), job, 3, "stage_1", 3, "step 3", 97);
}

BOOST_AUTO_TEST_CASE(subscribing_twice_sends_no_event_twice) {
  auto job = unique_job_id("twice");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish_steps(job, 1, 1);
  expect_steps(ws, job, 1, 1);
  auto again = subscribe(ws, job);
  check_snapshot(again["status"],
                 {job, "running", "stage_1", 1, "step 1", 99.0, false, 1});
  publish_steps(job, 2, 3);
  // The next frames are 2 and 3, each once.
  expect_steps(ws, job, 2, 3);
  expect_no_more(ws);
}

BOOST_AUTO_TEST_CASE(resubscribing_with_since_seq_sends_no_event_twice) {
  auto job = unique_job_id("twice_since");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish_steps(job, 1, 2);
  expect_steps(ws, job, 1, 2);
  // Events 1 and 2 were sent to this connection already.
  subscribe(ws, job, 0);
  publish_steps(job, 3, 3);
  expect_steps(ws, job, 3, 3);
  expect_no_more(ws);
}

BOOST_AUTO_TEST_CASE(resubscribing_with_an_earlier_since_seq_sends_what_was_never_sent) {
  // Subscribed live, this connection was never sent 1 and 2: asking again
  // from 0 must bring them, not just `subscribed`.
  auto job = unique_job_id("earlier");
  publish_steps(job, 1, 2);
  auto ws = open_ws(port());
  subscribe(ws, job);
  subscribe(ws, job, 0);
  expect_steps(ws, job, 1, 2);
  publish_steps(job, 3, 3);
  expect_steps(ws, job, 3, 3);
  // Now every event was sent: from 0 again brings none of them twice.
  subscribe(ws, job, 0);
  publish_steps(job, 4, 4);
  expect_steps(ws, job, 4, 4);
  expect_no_more(ws);
}

BOOST_AUTO_TEST_CASE(unsubscribe_stops_events) {
  auto job = unique_job_id("unsub");
  auto a = open_ws(port());
  auto b = open_ws(port());
  subscribe(a, job);
  subscribe(b, job);
  publish(http, job, step(1));
  check_progress_update(a.read_json(), job, 1, "stage_1", 1, "step 1", 99);
  check_progress_update(b.read_json(), job, 1, "stage_1", 1, "step 1", 99);
  a.send_text(R"({"type":"unsubscribe","job_id":)" + q(job) + "}");
  auto reply = a.read_json();
  check_string(reply, "type", "unsubscribed");
  check_string(reply, "job_id", job);
  for (int i = 2; i <= 4; ++i)
    publish(http, job, step(i));
  // b sees them all, so they went out.
  for (int i = 2; i <= 4; ++i)
    check_progress_update(b.read_json(), job, i, "stage_1", i,
                          "step " + std::to_string(i), 100.0 - i);
  auto extra = ping_barrier(a);
  BOOST_TEST(extra.empty(), "event after unsubscribed: " << describe(extra));
  check_quiet(a);
}

BOOST_AUTO_TEST_CASE(request_status_of_unknown_job_is_job_not_found) {
  auto job = unique_job_id("nostatus");
  auto ws = open_ws(port());
  ws.send_text(R"({"type":"request_status","job_id":)" + q(job)
               + R"(,"request_id":"s-1"})");
  check_error(ws.read_json(), "job_not_found", job, "s-1");
  // Also when the connection follows the job (pending).
  subscribe(ws, job);
  ws.send_text(R"({"type":"request_status","job_id":)" + q(job) + "}");
  check_error(ws.read_json(), "job_not_found", job);
}

BOOST_AUTO_TEST_CASE(request_status_of_known_job_is_job_status) {
  auto job = unique_job_id("status");
  publish(http, job, progress_event("stage_3", 42.5, "Counting doors", 12));
  auto ws = open_ws(port());
  ws.send_text(R"({"type":"request_status","job_id":)" + q(job)
               + R"(,"request_id":"s-2"})");
  auto reply = ws.read_json();
  check_keys(reply, {"type", "job_id", "status", "stage", "progress", "message",
                     "estimated_seconds_remaining", "cancel_requested",
                     "last_seq", "updated_at", "timestamp", "request_id"});
  check_string(reply, "type", "job_status");
  check_string(reply, "request_id", "s-2");
  check_timestamp(reply);
  check_snapshot_fields(
    reply, {job, "running", "stage_3", 42.5, "Counting doors", 12.0, false, 1});
  // The HTTP snapshot says the same.
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_snapshot(res.json(), {job, "running", "stage_3", 42.5, "Counting doors",
                              12.0, false, 1});
}

BOOST_AUTO_TEST_CASE(cancel_job_replies_then_cancels) {
  auto job = unique_job_id("cancel");
  auto a = open_ws(port());
  auto b = open_ws(port());
  subscribe(a, job);
  subscribe(b, job);
  publish(http, job, step(1));
  a.read_json();
  check_progress_update(b.read_json(), job, 1, "stage_1", 1, "step 1", 99);
  a.send_text(R"({"type":"cancel_job","job_id":)" + q(job)
              + R"(,"reason":"user asked","request_id":"c-1"})");
  // The reply comes first, then the event.
  auto reply = a.read_json();
  check_keys(reply, {"type", "job_id", "timestamp", "request_id"});
  check_string(reply, "type", "cancel_requested");
  check_string(reply, "job_id", job);
  check_string(reply, "request_id", "c-1");
  check_timestamp(reply);
  check_job_cancelled(a.read_json(), job, 2, "user asked");
  // Every other subscriber hears of the cancel (no request_id: it did not
  // ask), then gets the event.
  auto note = b.read_json();
  check_keys(note, {"type", "job_id", "timestamp"});
  check_string(note, "type", "cancel_requested");
  check_string(note, "job_id", job);
  auto event = b.read_json();
  check_job_cancelled(event, job, 2, "user asked");
  auto extra = ping_barrier(b);
  BOOST_TEST(extra.empty(), "unexpected frame: " << describe(extra));
  // The job is cancelled for good.
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  auto snapshot = res.json();
  check_string(snapshot, "status", "cancelled");
  check_bool(snapshot, "cancel_requested", true);
  check_int(snapshot, "last_seq", 2);
}

BOOST_AUTO_TEST_CASE(cancel_job_without_reason_gives_empty_reason) {
  auto job = unique_job_id("cancel_noreason");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish(http, job, step(1));
  ws.read_json();
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(job) + "}");
  auto reply = ws.read_json();
  check_keys(reply, {"type", "job_id", "timestamp"});
  check_string(reply, "type", "cancel_requested");
  check_job_cancelled(ws.read_json(), job, 2, "");
}

BOOST_AUTO_TEST_CASE(cancel_job_by_a_connection_that_does_not_follow_it) {
  auto job = unique_job_id("cancel_other");
  auto requester = open_ws(port());
  auto watcher = open_ws(port());
  subscribe(watcher, job);
  publish(http, job, step(1));
  watcher.read_json();
  requester.send_text(R"({"type":"cancel_job","job_id":)" + q(job)
                      + R"(,"reason":"ops"})");
  check_string(requester.read_json(), "type", "cancel_requested");
  check_cancel_seen(watcher, job, 2, "ops");
  // The requester does not follow the job: no event for it.
  auto extra = ping_barrier(requester);
  BOOST_TEST(extra.empty(), "unexpected frame: " << describe(extra));
}

BOOST_AUTO_TEST_CASE(cancel_job_of_unknown_or_finished_job_fails) {
  auto ws = open_ws(port());
  auto unknown = unique_job_id("cancel_unknown");
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(unknown)
               + R"(,"request_id":"c-2"})");
  check_error(ws.read_json(), "job_not_found", unknown, "c-2");
  // completed
  auto done = unique_job_id("cancel_done");
  publish(http, done, job_complete_event("{}"));
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(done)
               + R"(,"request_id":"c-3"})");
  check_error(ws.read_json(), "job_finished", done, "c-3");
  // cancelled already
  auto cancelled = unique_job_id("cancel_twice");
  publish(http, cancelled, step(1));
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(cancelled) + "}");
  check_string(ws.read_json(), "type", "cancel_requested");
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(cancelled)
               + R"(,"request_id":"c-4"})");
  check_error(ws.read_json(), "job_finished", cancelled, "c-4");
  // failed
  auto failed = unique_job_id("cancel_failed");
  publish(http, failed, job_failed_event("x", "y"));
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(failed) + "}");
  check_error(ws.read_json(), "job_finished", failed);
}

BOOST_AUTO_TEST_CASE(events_after_a_terminal_event_are_refused) {
  auto ws = open_ws(port());
  for (auto terminal : {job_complete_event("{}"), job_failed_event("x", "y"),
                        job_cancelled_event("r")}) {
    auto job = unique_job_id("terminal");
    subscribe(ws, job);
    publish(http, job, step(1));
    publish(http, job, terminal);
    ws.read_json();
    ws.read_json();
    for (auto late : {step(2), terminal, job_complete_event("{}")}) {
      auto res = http.post(events_path(job), late);
      check_http_error(res, 409, "job_finished");
    }
    auto extra = ping_barrier(ws);
    BOOST_TEST(extra.empty(), "event after the terminal: " << describe(extra));
    auto res = http.get(job_path(job));
    BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
    check_int(res.json(), "last_seq", 2);
    ws.send_text(R"({"type":"unsubscribe","job_id":)" + q(job) + "}");
    check_string(ws.read_json(), "type", "unsubscribed");
  }
}

BOOST_AUTO_TEST_CASE(closed_connections_leave_the_job_index) {
  auto job = unique_job_id("index");
  std::string id_a;
  std::string id_b;
  std::string id_c;
  auto a = open_ws(port(), &id_a);
  auto b = open_ws(port(), &id_b);
  auto c = std::make_unique<ws_client>(open_ws(port(), &id_c));
  subscribe(a, job);
  subscribe(b, job);
  subscribe(*c, job);
  BOOST_TEST(eventually([&] {
               return lists(job, id_a) && lists(job, id_b) && lists(job, id_c);
             }),
             "connections of " << job << " should list " << id_a << ", " << id_b
                               << " and " << id_c);
  // A clean close.
  a.close();
  BOOST_TEST(eventually([&] { return !lists(job, id_a); }),
             id_a << " is still listed after its close");
  // A dropped TCP connection.
  c.reset();
  BOOST_TEST(eventually([&] { return !lists(job, id_c); }),
             id_c << " is still listed after its TCP connection dropped");
  // An unsubscribe.
  b.send_text(R"({"type":"unsubscribe","job_id":)" + q(job) + "}");
  check_string(b.read_json(), "type", "unsubscribed");
  BOOST_TEST(eventually([&] { return !lists(job, id_b); }),
             id_b << " is still listed after its unsubscribe");
  BOOST_TEST(connections(job).empty());
}

BOOST_AUTO_TEST_SUITE_END()
