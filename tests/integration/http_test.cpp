#define BOOST_TEST_MODULE http
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <csignal>
#include <fstream>
#include <sys/wait.h>
#include <unistd.h>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"
#include "raw_socket.hpp"
#include "server_fixture.hpp"
#include "server_process.hpp"
#include "stream_helpers.hpp"
#include "wire_checks.hpp"
#include "ws_client.hpp"

using namespace jobwire::test;
using namespace std::chrono_literals;

namespace {

constexpr size_t default_max_message_bytes = 65536;

struct fixture : server_fixture {
  fixture() : http(port()) {
    // nop
  }

  http_client http;
};

void check_json_content_type(const http_response& res) {
  BOOST_TEST(res.header("content-type").starts_with("application/json"),
             "content-type \"" << res.header("content-type") << "\"");
}

std::vector<std::string> listed_connections(http_client& http,
                                            const std::string& job) {
  auto res = http.get(job_path(job) + "/connections");
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.to_string());
  std::vector<std::string> result;
  // Keep the body alive: ranging over a part of a temporary dangles.
  auto body = res.json();
  for (auto& x : body["connections"].as_array())
    result.push_back(x.as_string());
  std::sort(result.begin(), result.end());
  return result;
}

// Stops a server that has a WebSocket subscriber and an idle HTTP
// keep-alive connection with `sig` and checks the clean exit.
void check_clean_exit(int sig) {
  server_process server;
  auto job = unique_job_id("shutdown");
  auto ws = open_ws(server.port());
  subscribe(ws, job);
  http_client http{server.port()};
  publish(http, job, progress_event("s", 1, "m"));
  ws.read_json();
  {
    // A refused Origin is logged; its bytes are the client's, not UTF-8.
    raw_socket s;
    s.connect(server.port());
    s.send("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Origin: https://\xfe\xc0\xaf\"x\r\n\r\n");
    auto reply = s.read_http_reply();
    BOOST_TEST((reply && reply->status == 403));
  }
  auto status = server.stop(sig, 10s);
  BOOST_TEST((status.exited && status.code == 0 && !status.timed_out),
             "jobwire " << status.to_string() << " on signal " << sig
                        << "; stderr:\n"
                        << server.stderr_tail(30));
  // stdout holds the listening line and the CAF port line only.
  auto out = server.stdout_text();
  auto expected = "jobwire listening on http://127.0.0.1:"
                  + std::to_string(server.port()) + "\njobwire caf port ";
  BOOST_TEST(out.starts_with(expected), "stdout: " << out);
  BOOST_TEST(std::count(out.begin(), out.end(), '\n') == 2, "stdout: " << out);
  // stderr holds one JSON object per line.
  std::istringstream err{server.stderr_text()};
  std::string line;
  int lines = 0;
  while (std::getline(err, line)) {
    ++lines;
    bool is_object = false;
    try {
      is_object = json_value::parse(line).is_object();
    } catch (const std::exception&) {
      // nop
    }
    BOOST_TEST(is_object,
               "stderr line " << lines << " is no JSON object: " << line);
  }
  // The subscriber's connection ended.
  auto closed = ws.wait_close(5s);
  BOOST_TEST((closed.close_frame || !closed.error.empty()), closed.to_string());
}

/// Metric `name` from /metrics; the test stops when it is missing.
double metric(uint16_t port, std::string_view name) {
  auto v = read_metric(port, name);
  BOOST_TEST_REQUIRE(v.has_value(), name << " missing from /metrics");
  return *v;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(http_api, fixture)

BOOST_AUTO_TEST_CASE(publish_answers_202_with_job_id_and_seq) {
  auto job = unique_job_id("pub");
  for (int i = 1; i <= 3; ++i) {
    auto res = http.post(events_path(job), progress_event("s", i, "m"));
    BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
    check_json_content_type(res);
    auto body = res.json();
    check_keys(body, {"job_id", "seq"});
    check_string(body, "job_id", job);
    check_int(body, "seq", i);
  }
  // Seqs are per job.
  BOOST_TEST(publish(http, unique_job_id("pub"), progress_event("s", 1, "m"))
             == 1);
}

BOOST_AUTO_TEST_CASE(get_job_returns_the_snapshot) {
  auto job = unique_job_id("snap");
  publish(http, job, progress_event("stage_1", 20, "Loading", 40));
  publish(http, job, progress_event("stage_2", 55.5, "Detecting walls...", 15));
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_json_content_type(res);
  check_snapshot(res.json(), {job, "running", "stage_2", 55.5,
                              "Detecting walls...", 15.0, false, 2});
  // stage_complete keeps the job running.
  publish(http, job, stage_complete_event("stage_2", R"({"walls":4})"));
  res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "running");
  check_int(res.json(), "last_seq", 3);
  // job_complete finishes it.
  publish(http, job, job_complete_event(R"({"rooms":[]})"));
  res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "completed");
  check_int(res.json(), "last_seq", 4);
  check_bool(res.json(), "cancel_requested", false);
}

BOOST_AUTO_TEST_CASE(a_percent_encoded_job_id_in_the_path_is_the_same_job) {
  // encodeURIComponent("job:1") is "job%3A1"; it was refused as
  // invalid_job_id while "job:1" was served.
  auto job = unique_job_id("enc") + ":x";
  auto encoded = job.substr(0, job.size() - 2) + "%3Ax";
  auto res = http.post("/v1/jobs/" + encoded + "/events",
                       progress_event("s", 1, "m"));
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  check_string(res.json(), "job_id", job);
  res = http.get("/v1/jobs/" + encoded);
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "job_id", job);
  check_int(res.json(), "last_seq", 1);
  // An escaped slash is part of the id, which may not have one.
  check_http_error(http.get("/v1/jobs/a%2Fb"), 400, "invalid_job_id");
}

BOOST_AUTO_TEST_CASE(get_unknown_job_is_404_job_not_found) {
  auto job = unique_job_id("unknown");
  auto res = http.get(job_path(job));
  check_http_error(res, 404, "job_not_found");
  // An expired job answers the same: the message may not say "yet".
  BOOST_TEST(res.json()["message"].as_string()
               == "job '" + job + "' has no events (none yet, or they expired)",
             res.body);
}

BOOST_AUTO_TEST_CASE(events_after_the_terminal_event_are_409) {
  for (auto terminal :
       {job_complete_event("{}"), job_failed_event("e", "failed", "s"),
        job_cancelled_event("")}) {
    BOOST_TEST_CONTEXT("after " << terminal) {
      auto job = unique_job_id("fin");
      publish(http, job, progress_event("s", 1, "m"));
      publish(http, job, terminal);
      check_http_error(http.post(events_path(job), progress_event("s", 2, "m")),
                       409, "job_finished");
      check_http_error(http.post(events_path(job), terminal), 409,
                       "job_finished");
      auto res = http.get(job_path(job));
      BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
      check_int(res.json(), "last_seq", 2);
    }
  }
}

BOOST_AUTO_TEST_CASE(cancel_running_job_is_202_with_the_snapshot) {
  auto job = unique_job_id("cancel");
  auto ws = open_ws(port());
  subscribe(ws, job);
  publish(http, job, progress_event("stage_1", 30, "Working", 20));
  ws.read_json();
  auto res = http.post(job_path(job) + "/cancel", R"({"reason":"stop it"})");
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  check_json_content_type(res);
  auto snapshot = res.json();
  check_keys(snapshot, {"job_id", "status", "stage", "progress", "message",
                        "estimated_seconds_remaining", "cancel_requested",
                        "last_seq", "updated_at"});
  check_string(snapshot, "job_id", job);
  check_string(snapshot, "status", "cancelled");
  check_bool(snapshot, "cancel_requested", true);
  check_timestamp(snapshot, "updated_at");
  // The subscriber hears of the cancel, then gets the event.
  auto note = ws.read_json();
  check_keys(note, {"type", "job_id", "timestamp"});
  check_string(note, "type", "cancel_requested");
  check_job_cancelled(ws.read_json(), job, 2, "stop it");
  auto extra = ping_barrier(ws);
  BOOST_TEST(extra.empty(), "unexpected frames: " << describe(extra));
  res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "cancelled");
  check_bool(res.json(), "cancel_requested", true);
  check_int(res.json(), "last_seq", 2);
}

BOOST_AUTO_TEST_CASE(cancel_without_body_gives_empty_reason) {
  for (std::optional<std::string_view> body :
       {std::optional<std::string_view>{},
        std::optional<std::string_view>{"{}"}}) {
    auto job = unique_job_id("cancel_empty");
    auto ws = open_ws(port());
    subscribe(ws, job);
    publish(http, job, progress_event("s", 1, "m"));
    ws.read_json();
    auto res = http.request("POST", job_path(job) + "/cancel", body);
    BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
    check_string(res.json(), "status", "cancelled");
    check_cancel_seen(ws, job, 2, "");
  }
}

BOOST_AUTO_TEST_CASE(cancel_errors) {
  // unknown
  check_http_error(
    http.post(job_path(unique_job_id("nocancel")) + "/cancel", "{}"), 404,
    "job_not_found");
  // finished
  auto job = unique_job_id("cancel_fin");
  publish(http, job, job_complete_event("{}"));
  check_http_error(http.post(job_path(job) + "/cancel", "{}"), 409,
                   "job_finished");
  // cancelled twice
  auto twice = unique_job_id("cancel_twice");
  publish(http, twice, progress_event("s", 1, "m"));
  auto res = http.post(job_path(twice) + "/cancel", "{}");
  BOOST_TEST(res.status == 202, res.to_string());
  check_http_error(http.post(job_path(twice) + "/cancel", "{}"), 409,
                   "job_finished");
  // bad bodies change nothing
  auto running = unique_job_id("cancel_bad");
  publish(http, running, progress_event("s", 1, "m"));
  check_http_error(http.post(job_path(running) + "/cancel", "{"), 400,
                   "invalid_json");
  check_http_error(http.post(job_path(running) + "/cancel", R"({"reason":5})"),
                   400, "invalid_message");
  res = http.get(job_path(running));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_string(res.json(), "status", "running");
  check_bool(res.json(), "cancel_requested", false);
}

BOOST_AUTO_TEST_CASE(connections_of_a_job) {
  // Unknown job: an empty list.
  auto unknown = unique_job_id("noconn");
  auto res = http.get(job_path(unknown) + "/connections");
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_json_content_type(res);
  auto body = res.json();
  check_keys(body, {"job_id", "connections"});
  check_string(body, "job_id", unknown);
  check_json(body, "connections", json_value::parse("[]"));
  // Two subscribers are listed.
  auto job = unique_job_id("conn");
  std::string id_a;
  std::string id_b;
  auto a = open_ws(port(), &id_a);
  auto b = open_ws(port(), &id_b);
  auto c = open_ws(port());
  subscribe(a, job);
  subscribe(b, job);
  std::vector<std::string> expected{id_a, id_b};
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> listed;
  BOOST_TEST(eventually([&] {
               listed = listed_connections(http, job);
               return listed == expected;
             }),
             "expected " << id_a << " and " << id_b << ", got " << listed.size()
                         << ": " << (listed.empty() ? "" : listed.front()));
}

BOOST_AUTO_TEST_CASE(oversized_headers_are_431) {
  http_client fresh{port()};
  auto res = fresh.request("GET", "/healthz", std::nullopt,
                           {{"X-Padding", std::string(9000, 'x')}});
  BOOST_TEST(res.status == 431, res.to_string());
  check_http_error(res, 431, "message_too_large");
  // Everyone else is still served.
  BOOST_TEST(http.get("/healthz").status == 200);
}

// Beast 1.81 applies its header limit to what one read leaves unparsed, so
// a head of many short lines passed any limit (160 KB got a 200, and a
// thousand such connections held the io thread for a minute). The server
// counts the whole head: over 8 KiB is 431, whole or in pieces; just under
// it is served.
BOOST_AUTO_TEST_CASE(a_head_of_many_short_lines_is_431) {
  auto head = [](int lines) {
    std::string out = "GET /healthz HTTP/1.1\r\n";
    for (int i = 0; i < lines; ++i)
      out += "X-A: b\r\n";
    return out + "Host: x\r\n\r\n";
  };
  for (size_t piece : {size_t{0}, size_t{800}}) {
    BOOST_TEST_CONTEXT((piece == 0 ? "whole" : "in pieces")) {
      auto request = head(2000); // 16 KiB
      raw_socket s;
      s.connect(port());
      if (piece == 0) {
        BOOST_REQUIRE(s.send(request));
      } else {
        for (size_t at = 0; at < request.size(); at += piece) {
          if (!s.send(std::string_view{request}.substr(at, piece)))
            break; // answered and closed before the rest
          std::this_thread::sleep_for(2ms);
        }
      }
      auto reply = s.read_http_reply();
      BOOST_REQUIRE(reply.has_value());
      BOOST_TEST(reply->status == 431);
      BOOST_TEST(json_value::parse(reply->body)["code"].as_string()
                 == "message_too_large");
    }
  }
  raw_socket under;
  under.connect(port());
  BOOST_REQUIRE(under.send(head(1000))); // 8,034 bytes
  auto reply = under.read_http_reply();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 200);
}

// Malformed chunked bodies (the first found by fuzz/http_request_fuzz.cpp),
// sent whole and a byte at a time: a 400 or a close, never a crash.
BOOST_AUTO_TEST_CASE(malformed_chunked_bodies_are_400) {
  std::string head = "POST " + job_path("chunky") + "/events HTTP/1.1\r\n"
                     "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string bodies[] = {
    std::string{"0\0\r\n", 4},
    "zz\r\n{}\r\n0\r\n\r\n",
    "2;\x01\r\n{}\r\n0\r\n\r\n",
    "ffffffffffffffffff\r\n",
    "2\r\n{}XX0\r\n\r\n",
  };
  for (const auto& body : bodies) {
    for (size_t step : {size_t{0}, size_t{1}}) {
      auto request = head + body;
      raw_socket s;
      s.connect(port());
      if (step == 0) {
        s.send(request);
      } else {
        for (char c : request)
          if (!s.send(std::string_view{&c, 1}))
            break;
      }
      s.shutdown_send();
      auto reply = s.read_http_reply();
      BOOST_TEST_CONTEXT("body " << json_quote(body) << ", step " << step) {
        BOOST_REQUIRE(reply.has_value());
        BOOST_TEST(reply->status == 400);
        BOOST_TEST(json_value::parse(reply->body)["code"].as_string()
                   == "invalid_message");
      }
    }
  }
  BOOST_TEST(http.get("/healthz").status == 200);
  BOOST_TEST(http.get(job_path("chunky")).status == 404);
}

// Chunked trailers passed every limit: a field of 64 KiB made Beast throw
// and the server abort, and 20 MB of short fields were all taken in. The
// whole message now counts against the limits.
BOOST_AUTO_TEST_CASE(huge_or_endless_trailers_are_refused) {
  std::string head = "POST " + job_path("trailers") + "/events HTTP/1.1\r\n"
                     "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "17\r\n{\"type\":\"job_complete\"}\r\n0\r\n";
  std::string many;
  for (int i = 0; i < 40000; ++i)
    many += "X-T: t\r\n"; // 320 KB
  const std::pair<std::string, std::string> cases[] = {
    {"one field of 64 KiB", "X-T: " + std::string(65534, 't') + "\r\n\r\n"},
    {"320 KB of short fields", many + "\r\n"},
  };
  for (auto& [what, trailer] : cases) {
    BOOST_TEST_CONTEXT(what) {
      raw_socket s;
      s.connect(port());
      auto request = head + trailer;
      for (size_t at = 0; at < request.size(); at += 16384)
        if (!s.send(std::string_view{request}.substr(at, 16384)))
          break; // refused before the rest
      auto reply = s.read_http_reply();
      if (reply)
        BOOST_TEST((reply->status == 431 || reply->status == 413),
                   "answered " << reply->status);
      BOOST_TEST(http.get("/healthz").status == 200);
    }
  }
  BOOST_TEST(http.get(job_path("trailers")).status == 404);
}

// A head with bare LF line endings is answered 400 at once (it waited for
// a CRLF CRLF until the handshake timeout).
BOOST_AUTO_TEST_CASE(a_head_with_bare_lf_is_400) {
  raw_socket s;
  s.connect(port());
  BOOST_REQUIRE(s.send("GET /healthz HTTP/1.1\nHost: x\n\n"));
  auto reply = s.read_http_reply(3s);
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 400);
}

// The final chunk in one read and one byte of its CRLF in the next trips a
// wrong assertion in Beast 1.81 (net/boost_assert.cpp lets it through): a
// debug server aborted here. The pauses make the server read them apart.
BOOST_AUTO_TEST_CASE(a_final_chunk_split_before_its_crlf_is_400) {
  std::string head = "POST " + job_path("chunky") + "/events HTTP/1.1\r\n"
                     "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  raw_socket s;
  s.connect(port());
  BOOST_REQUIRE(s.send(head + "0\r\n"));
  std::this_thread::sleep_for(200ms);
  BOOST_REQUIRE(s.send("\r"));
  std::this_thread::sleep_for(200ms);
  s.shutdown_send();
  auto reply = s.read_http_reply();
  BOOST_REQUIRE(reply.has_value());
  BOOST_TEST(reply->status == 400);
  BOOST_TEST(json_value::parse(reply->body)["code"].as_string()
             == "invalid_message");
  BOOST_TEST(http.get("/healthz").status == 200);
}

// Requests sent back to back without waiting (pipelining) are answered in
// the order sent, and publishes to one job are stored in that order; more
// than the server reads ahead (16) are all answered too.
BOOST_AUTO_TEST_CASE(pipelined_requests_are_answered_in_order) {
  auto job = unique_job_id("pipelined");
  constexpr int publishes = 40;
  std::string batch;
  auto request = [&](std::string_view method, const std::string& path,
                     const std::string& body) {
    batch += std::string{method} + " " + path + " HTTP/1.1\r\nHost: x\r\n";
    if (!body.empty())
      batch += "Content-Type: application/json\r\nContent-Length: "
               + std::to_string(body.size()) + "\r\n";
    batch += "\r\n" + body;
  };
  for (int i = 1; i <= publishes; ++i) {
    request("POST", job_path(job) + "/events",
            progress_event("s", i, "m" + std::to_string(i)));
    if (i == 20)
      request("GET", "/no/such/path", "");
  }
  request("GET", job_path(job), "");
  raw_socket s;
  s.connect(port());
  BOOST_REQUIRE(s.send(batch));
  for (int i = 1; i <= publishes; ++i) {
    auto reply = s.read_http_reply();
    BOOST_REQUIRE_MESSAGE(reply.has_value(), "no reply " << i);
    BOOST_TEST(reply->status == 202);
    BOOST_TEST(json_value::parse(reply->body)["seq"].as_number() == i);
    if (i == 20) {
      auto missing = s.read_http_reply();
      BOOST_REQUIRE(missing.has_value());
      BOOST_TEST(missing->status == 404);
    }
  }
  auto status = s.read_http_reply();
  BOOST_REQUIRE(status.has_value());
  BOOST_TEST(status->status == 200);
  auto snap = json_value::parse(status->body);
  BOOST_TEST(snap["last_seq"].as_number() == publishes);
  BOOST_TEST(snap["progress"].as_number() == publishes);
}

BOOST_AUTO_TEST_CASE(metrics_time_every_commit) {
  auto count = [&](std::string_view name) { return metric(port(), name); };
  auto commits = count("jobwire_commit_seconds_count");
  auto writes = count("jobwire_commit_writes_total");
  auto job = unique_job_id("commits");
  // Each 202 comes after its own commit.
  for (int i = 1; i <= 3; ++i)
    publish(http, job, progress_event("s", i, "m"));
  BOOST_TEST(count("jobwire_commit_seconds_count") >= commits + 3);
  BOOST_TEST(count("jobwire_commit_writes_total") >= writes + 3);
  BOOST_TEST(count("jobwire_commit_seconds_bucket{le=\"+Inf\"}")
             == count("jobwire_commit_seconds_count"));
}

BOOST_AUTO_TEST_CASE(metrics_count_what_the_store_holds) {
  auto count = [&](std::string_view name) { return metric(port(), name); };
  auto jobs = count("jobwire_stored_jobs");
  auto events = count("jobwire_stored_events");
  BOOST_TEST(count("jobwire_stored_connections") >= 0);
  auto first = unique_job_id("stored");
  auto second = unique_job_id("stored");
  publish(http, first, progress_event("s", 1, "m"));
  publish(http, first, progress_event("s", 2, "m"));
  publish(http, second, progress_event("s", 1, "m"));
  // Each 202 comes after its commit: the counts have them.
  BOOST_TEST(count("jobwire_stored_jobs") == jobs + 2);
  BOOST_TEST(count("jobwire_stored_events") == events + 3);
}

BOOST_AUTO_TEST_CASE(healthz_is_200) {
  auto res = http.get("/healthz");
  BOOST_TEST(res.status == 200, res.to_string());
}

BOOST_AUTO_TEST_CASE(the_root_serves_the_watch_page) {
  auto res = http.get("/?job=job_42");
  BOOST_REQUIRE_MESSAGE(res.status == 200, res.to_string());
  BOOST_TEST(res.header("content-type") == "text/html; charset=utf-8");
  // The page renders what publishers wrote; it must not load or send
  // anything else, nor pass its URL (which may hold a token) on.
  auto policy = res.header("content-security-policy");
  BOOST_TEST(policy.find("default-src 'none'") != std::string::npos, policy);
  BOOST_TEST(policy.find("connect-src 'self'") != std::string::npos, policy);
  BOOST_TEST(res.header("referrer-policy") == "no-referrer");
  BOOST_TEST(res.header("x-content-type-options") == "nosniff");
  // It speaks the protocol: the WebSocket path, and a subscribe that goes
  // on from the last seq shown.
  for (auto part : {"/v1/ws", R"(type: "subscribe")", "since_seq: lastSeq",
                    R"(type: "cancel_job")", "textContent"})
    BOOST_TEST(res.body.find(part) != std::string::npos, part);
  BOOST_TEST(res.body.find("innerHTML") == std::string::npos);
  // What the page's audit found, by the code that now handles it: a
  // progress shown rounded (not 33.333333333333336 %), ETAs under a second
  // and past a year in words, a 1008 close (an expired token) not retried,
  // and a job started again under its id subscribed to afresh.
  for (auto part : {"percent(progress)", "less than a second left",
                    "more than a year left", "e.code === 1008",
                    "cannot connect", "startOver(s.last_seq)"})
    BOOST_TEST(res.body.find(part) != std::string::npos, part);
  BOOST_TEST(res.body.find(R"(progress + " %")") == std::string::npos);
  check_http_error(http.post("/", "{}"), 405);
}

BOOST_AUTO_TEST_CASE(head_answers_as_get_without_the_body) {
  auto job = unique_job_id("head");
  publish(http, job, progress_event("s", 10, "m"));
  for (auto target : {std::string{"/"}, std::string{"/healthz"},
                      std::string{"/metrics"}, job_path(job),
                      job_path(job) + "/connections",
                      job_path(unique_job_id("none"))}) {
    BOOST_TEST_CONTEXT("HEAD " << target) {
      auto got = http.get(target);
      auto head = http.request("HEAD", target);
      BOOST_TEST(head.status == got.status, head.to_string());
      BOOST_TEST(head.header("content-type") == got.header("content-type"));
      BOOST_TEST(head.body.empty());
      // /metrics changes between the two requests; the others must not.
      auto length = std::stoul(head.header("content-length"));
      if (target != "/metrics")
        BOOST_TEST(length == got.body.size());
      else
        BOOST_TEST(length > 0u);
      // No body bytes were sent after the head: the same connection goes on.
      BOOST_TEST(head.keep_alive);
      BOOST_TEST(http.get("/healthz").status == 200);
    }
  }
  // Neither an upgrade nor a POST endpoint takes HEAD; their refusals have
  // no body either, and the connection goes on.
  for (auto [target, allow] :
       {std::pair<std::string, std::string>{"/v1/ws", "GET"},
        {job_path(job) + "/events", "POST"},
        {"/nope", ""}}) {
    BOOST_TEST_CONTEXT("HEAD " << target) {
      auto head = http.request("HEAD", target);
      BOOST_TEST(head.status == (allow.empty() ? 404 : 405), head.to_string());
      BOOST_TEST(head.header("allow") == allow);
      BOOST_TEST(head.body.empty());
      BOOST_TEST(http.get("/healthz").status == 200);
    }
  }
  BOOST_TEST(http.connects() == 1u);
  // The GET endpoints say they take both.
  auto refused = http.post("/healthz", "{}");
  check_http_error(refused, 405);
  BOOST_TEST(refused.header("allow") == "GET, HEAD");
}

BOOST_AUTO_TEST_CASE(expect_100_continue_is_answered_before_the_body) {
  auto job = unique_job_id("expect");
  auto body = progress_event("s", 5, "m");
  raw_socket s;
  s.connect(port());
  s.send("POST " + job_path(job) + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
         "Content-Type: application/json\r\nExpect: 100-continue\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  // The client waits for this before it sends the body.
  auto interim = s.read_http_reply();
  BOOST_REQUIRE_MESSAGE(interim.has_value(), "no 100 Continue");
  BOOST_TEST(interim->status == 100);
  s.send(body);
  auto final_reply = s.read_http_reply();
  BOOST_REQUIRE(final_reply.has_value());
  BOOST_TEST(final_reply->status == 202, final_reply->body);
  // A body too large is refused at once, without the 100.
  raw_socket big;
  big.connect(port());
  big.send("POST " + job_path(job) + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Expect: 100-continue\r\nContent-Length: 10000000\r\n\r\n");
  auto refused = big.read_http_reply();
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(refused->status == 413);
}

BOOST_AUTO_TEST_CASE(event_id_makes_retries_safe) {
  auto job = unique_job_id("dedup");
  auto ws = open_ws(port());
  subscribe(ws, job);
  auto first = progress_event("s", 10, "first", 5, R"(,"event_id":"ev-1")");
  BOOST_TEST(publish(http, job, first) == 1);
  // The retry is acknowledged with the first seq and not sent again.
  BOOST_TEST(publish(http, job, first) == 1);
  auto second = progress_event("s", 20, "second", 4, R"(,"event_id":"ev-2")");
  BOOST_TEST(publish(http, job, second) == 2);
  BOOST_TEST(publish(http, job, first) == 1);
  check_progress_update(ws.read_json(), job, 1, "s", 10, "first", 5);
  check_progress_update(ws.read_json(), job, 2, "s", 20, "second", 4);
  auto extra = ping_barrier(ws);
  BOOST_TEST(extra.empty(), "unexpected frames: " << describe(extra));
  auto res = http.get(job_path(job));
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  check_int(res.json(), "last_seq", 2);
  // A late retry of an event of a finished job is still acknowledged.
  publish(http, job, job_complete_event("{}", R"(,"event_id":"ev-3")"));
  BOOST_TEST(publish(http, job, first) == 1);
}

BOOST_AUTO_TEST_CASE(keep_alive_serves_many_requests_on_one_connection) {
  auto job = unique_job_id("keep");
  for (int i = 1; i <= 3; ++i)
    publish(http, job, progress_event("s", i, "m"));
  std::vector<http_response> responses;
  responses.push_back(http.get(job_path(job)));
  responses.push_back(http.get("/healthz"));
  responses.push_back(http.get(job_path(job) + "/connections"));
  responses.push_back(http.get(job_path(unique_job_id("none"))));
  responses.push_back(http.get("/nope"));
  responses.push_back(http.post(events_path(job), "{"));
  responses.push_back(http.get(job_path(job)));
  for (auto& res : responses) {
    BOOST_TEST(res.version == 11u);
    BOOST_TEST(res.keep_alive, "the server closed after " << res.to_string());
  }
  BOOST_TEST(http.connects() == 1u,
             "requests took " << http.connects() << " connections");
}

BOOST_AUTO_TEST_CASE(body_limit_is_65536_by_default) {
  auto job = unique_job_id("limit");
  std::string head = R"({"type":"progress_update","stage":"s","progress":1,)"
                     R"("message":")";
  std::string tail = "\"}";
  auto exact
    = head
      + std::string(default_max_message_bytes - head.size() - tail.size(), 'm')
      + tail;
  BOOST_TEST(publish(http, job, exact) == 1);
  http_client fresh{port()};
  check_http_error(fresh.post(events_path(job), exact + " "), 413,
                   "message_too_large");
}

BOOST_AUTO_TEST_CASE(sigterm_exits_with_status_0) {
  check_clean_exit(SIGTERM);
}

BOOST_AUTO_TEST_CASE(while_draining_healthz_and_upgrades_answer_503) {
  // The listener used to close at SIGTERM: /healthz was refused, never 503.
  // A client that reads nothing keeps the drain open for its 3 s.
  server_process server{{"--drain-seconds=3"}};
  raw_socket lingering;
  lingering.set_receive_buffer(4096);
  lingering.connect(server.port());
  auto up = lingering.handshake(server.port());
  BOOST_REQUIRE((up && up->status == 101));
  ::kill(server.pid(), SIGTERM);
  int health = 0;
  BOOST_TEST(eventually([&] {
    http_client fresh{server.port()};
    health = fresh.get("/healthz").status;
    return health == 503;
  }, 2s), "/healthz while draining: " << health);
  raw_socket late;
  late.connect(server.port());
  auto refused = late.handshake(server.port());
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(refused->status == 503);
  BOOST_TEST(refused->header("retry-after") == "1");
  BOOST_TEST(json_value::parse(refused->body)["code"].as_string()
             == "rate_limited");
  auto status = server.stop(SIGTERM, 15s);
  BOOST_TEST((status.exited && status.code == 0 && !status.timed_out),
             status.to_string());
}

BOOST_AUTO_TEST_CASE(sigint_exits_with_status_0) {
  check_clean_exit(SIGINT);
}

BOOST_AUTO_TEST_CASE(sighup_exits_with_status_0) {
  // A closed terminal: a clean stop, not the default action's kill.
  check_clean_exit(SIGHUP);
}

BOOST_AUTO_TEST_CASE(a_closed_log_pipe_does_not_kill_the_server) {
  // `jobwire 2>&1 | head -n 1`, or a log shipper that restarts: the next
  // log line hit a closed pipe and SIGPIPE ended the server (status 141).
  int out[2];
  int err[2];
  BOOST_REQUIRE(::pipe(out) == 0 && ::pipe(err) == 0);
  temp_data_dir dir;
  auto pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close(out[0]);
    ::close(err[0]);
    // As from a shell: this test process ignores SIGPIPE, which exec keeps.
    ::signal(SIGPIPE, SIG_DFL);
    auto data = "--data-dir=" + dir.data();
    ::execl(jobwire_binary().c_str(), "jobwire", "--port=0", "--caf-port=0",
            data.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::string text;
  char buf[256];
  uint16_t port = 0;
  while (port == 0) {
    auto n = ::read(out[0], buf, sizeof buf);
    BOOST_REQUIRE_MESSAGE(n > 0, "no listening line: " << text);
    text.append(buf, static_cast<size_t>(n));
    auto at = text.find("http://127.0.0.1:");
    auto end = at == std::string::npos ? at : text.find('\n', at);
    if (end != std::string::npos)
      port = static_cast<uint16_t>(std::stoi(text.substr(at + 17, end - at - 17)));
  }
  ::close(err[0]); // the log reader goes away
  {
    // Each is logged at info (opened, closed).
    auto ws = open_ws(port);
    subscribe(ws, "pipe_job");
    ws.close();
    auto again = open_ws(port);
    subscribe(again, "pipe_job");
    http_client http{port};
    BOOST_TEST(http.get("/healthz").status == 200);
  }
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0),
             "status " << status << (WIFSIGNALED(status) ? " (signal " : " (")
                       << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")");
}

BOOST_AUTO_TEST_CASE(help_prints_usage_and_exits_0) {
  auto result = run_to_completion(jobwire_binary(), {"--help"}, 10s);
  BOOST_TEST((result.status.exited && result.status.code == 0),
             "jobwire --help " << result.status.to_string()
                               << "; stderr: " << result.err);
  // Where usage goes is not specified; CAF's --help writes to stderr.
  auto usage = result.out + result.err;
  BOOST_TEST(usage.find("--port") != std::string::npos,
             "usage does not mention --port: " << usage);
}

namespace {

/// CAF's effective configuration, as `--dump-config` prints it.
std::string dumped_config(std::vector<std::string> args) {
  args.push_back("--dump-config");
  auto result = run_to_completion(jobwire_binary(), args, 10s);
  BOOST_TEST((result.status.exited && result.status.code == 0),
             "jobwire --dump-config " << result.status.to_string()
                                      << "; stderr: " << result.err);
  return result.out + result.err;
}

} // namespace

BOOST_AUTO_TEST_CASE(idle_scheduler_workers_sleep_without_polling) {
  auto dump = dumped_config({});
  BOOST_TEST(dump.find("moderate-poll-attempts = 0\n") != std::string::npos,
             "no moderate polling by default: " << dump);
  // The user's choice wins over ours.
  dump = dumped_config({"--work-stealing.moderate-poll-attempts=500"});
  BOOST_TEST(dump.find("moderate-poll-attempts = 500\n") != std::string::npos,
             "command line overrides the default: " << dump);
}

BOOST_AUTO_TEST_CASE(settings_it_cannot_run_with_are_refused_at_start) {
  // Each names the option at fault, before anything is opened or started.
  struct bad_setting {
    std::vector<std::string> args;
    std::string says;
  };
  std::vector<bad_setting> cases{
    // Seconds become milliseconds on disk and nanoseconds in timers: a
    // huge value would overflow into the past rather than mean "never".
    {{"--job-abandon=99999999999999"},
     "--job-abandon=99999999999999 is out of range: it must be from 0 to "
     "3153600000"},
    {{"--worker-grace=99999999999999"}, "--worker-grace=99999999999999 is out"},
    // Thread creation failed part-way and ended the process.
    {{"--io-threads=100000"}, "--io-threads=100000 is out of range"},
    // Each names its own value, not a list of eleven options.
    {{"--heartbeat=0"}, "--heartbeat=0 is out of range: it must be from 1"},
    {{"--retry-base-ms=10000", "--retry-cap-ms=1"},
     "--retry-cap-ms=1 is out of range: it must be from 10000 "
     "(--retry-base-ms)"},
    // Accepted before, and then every connection was refused or every
    // subscribe failed.
    {{"--max-pending-handshakes=0"}, "--max-pending-handshakes=0 is out"},
    {{"--max-subscriptions=0"}, "--max-subscriptions=0 is out"},
    // A limit near 2^64 gave a 413 naming a garbage limit.
    {{"--max-message-bytes=1099511627776"},
     "--max-message-bytes=1099511627776 is out of range: it must be from 1 "
     "to 1073741824"},
    // LMDB could not even create its databases (MDB_MAP_FULL).
    {{"--map-size=4096"},
     "--map-size=4096 is out of range: it must be from 1048576 to "
     "70368744177664"},
    {{"--map-size=0"}, "--map-size=0 is out of range"},
    {{"--map-size=2147483648", "--max-map-size=1073741824"},
     "--max-map-size=1073741824 is out of range: it must be from 2147483648 "
     "(--map-size)"},
    // Started, and failed only when the map grew past the address space.
    {{"--max-map-size=70368744177665"},
     "--max-map-size=70368744177665 is out of range"},
    // CAF read these as 0 (then refused, naming 0) and as a parser error
    // code.
    {{"--max-map-size=18446744073709551615"},
     "--max-map-size=18446744073709551615 is out of range: it must be at "
     "most 9223372036854775807"},
    {{"--max-errors=-1"}, "--max-errors=-1 is not a whole number"},
    {{"--port=70000"}, "--port=70000 is out of range: it must be at most 65535"},
    // The io threads stopped before any client got its hint and close.
    {{"--drain-seconds=0"}, "--drain-seconds=0 is out of range"},
    {{"--socket-send-buffer=4294967296"}, "--socket-send-buffer=4294967296 is"},
    // CAF's parser errors, which named a code rather than the mistake.
    {{"--nope"}, "jobwire: unknown option --nope (see --help)"},
    {{"--bind"}, "jobwire: --bind needs a value (--bind=...)"},
    // Called "not loopback" before; the address was never tried.
    {{"--bind=999.1.1.1"}, "--bind=999.1.1.1 is not an IP address"},
    {{"--allowed-origins="},
     "jobwire: --allowed-origins needs a value (--allowed-origins=...)"},
    {{"--allow-anonymous=maybe"},
     "jobwire: --allow-anonymous=maybe is not a valid value for its option"},
    // CAF read these as octal: 045120 listened on port 19024.
    {{"--port=045120"}, "--port=045120 has a leading 0"},
    // SIGFPE inside CAF.
    {{"--scheduler.max-threads=0"},
     "--scheduler.max-threads=0 is out of range: it must be from 1 to 256"},
    // Started, and then every replay ended in 1013 with nothing sent.
    {{"--max-queue-bytes=1"},
     "--max-queue-bytes=1 is out of range: it must be from 65536 "
     "(--max-message-bytes)"},
    {{"--max-queue-frames=2"}, "--max-queue-frames=2 is out of range"},
    // Named only the default it clashed with, which no one had typed.
    {{"--retry-base-ms=6000"},
     "--retry-cap-ms=5000 is out of range: it must be from 6000 "
     "(--retry-base-ms) to 3153600000; raise --retry-cap-ms or lower "
     "--retry-base-ms"},
    // Aborted (an uncaught exception), and read /dev/zero without end.
    {{"--auth-secret-file=/tmp"}, "--auth-secret-file '/tmp' is a directory"},
    {{"--auth-secret-file=/dev/zero"},
     "--auth-secret-file '/dev/zero' holds more than 1 MiB"},
    {{"--config-file=/dev/zero"}, "the config file '/dev/zero' holds more"},
    // Taken, and matched no page a browser could send.
    {{"--allowed-origins=https://*.example"},
     "--allowed-origins entry 'https://*.example' has a wildcard"},
    {{"--config-file=/nonexistent.ini"},
     "cannot read the config file '/nonexistent.ini': no such file"},
    // The check's timeout overflowed into the past and was not checked.
    {{"--store-check-seconds=4000000000"},
     "--store-check-seconds=4000000000 is out of range: it must be "
     "from 0 to 3153600000"},
    // CAF stopped at the word and ignored the options after it: this
    // listened on 8080.
    {{"serve", "--port=9000"},
     "jobwire: unexpected argument 'serve': jobwire takes only options"},
  };
  // Refused before the store is checked or opened: no data directory is
  // left behind (a wrong --allowed-origins made one, LMDB files and all).
  temp_data_dir dir;
  auto never = dir.data() + "/never";
  for (auto& c : cases) {
    auto args = c.args;
    args.push_back("--data-dir=" + never);
    auto result = run_to_completion(jobwire_binary(), args, 10s);
    BOOST_TEST((result.status.exited && result.status.code != 0),
               c.args.front() << ": " << result.status.to_string());
    BOOST_TEST(result.err.find(c.says) != std::string::npos,
               c.args.front() << " stderr: " << result.err);
    BOOST_TEST(!std::filesystem::exists(never),
               c.args.front() << " left " << never << " behind");
    std::filesystem::remove_all(never);
  }
}

BOOST_AUTO_TEST_CASE(an_ipv6_bind_is_announced_as_a_url) {
  // It said http://::1:PORT, which no client takes.
  temp_data_dir dir;
  auto result = run_to_completion(
    jobwire_binary(),
    {"--bind=::1", "--port=0", "--caf-port=0", "--data-dir=" + dir.data()},
    3s);
  if (result.err.find("cannot") != std::string::npos
      && result.out.find("listening") == std::string::npos) {
    BOOST_TEST_MESSAGE("no IPv6 loopback here: " << result.err);
    return;
  }
  BOOST_TEST(result.out.starts_with("jobwire listening on http://[::1]:"),
             "stdout: " << result.out << " stderr: " << result.err);
}

BOOST_AUTO_TEST_CASE(a_config_file_with_a_mistake_is_refused_naming_it) {
  // CAF dropped a key it did not know and a value of the wrong type, and
  // ran on the default: a list for auth-secret-file ran without auth.
  temp_data_dir dir;
  auto file = dir.path() + "/jobwire.ini";
  struct bad_file {
    std::string text;
    std::string says;
  };
  std::vector<bad_file> cases{
    {"auth-secret-file=[\"/etc/secret\"]\n",
     "sets 'auth-secret-file' to [\"/etc/secret\"], which is not a string"},
    {"[global]\nport=70000\n", "sets 'port' to 70000, which is not a uint16"},
    {"heartbeat=-1\n", "sets 'heartbeat' to -1, which is not a uint64"},
    {"hartbeat=5\n", "sets 'hartbeat', which is not an option"},
    {"[bogus]\nx=1\n", "sets 'bogus.x', which is not an option"},
    {"heartbeat=010\n", "line 1: 'heartbeat=010': a number with a leading 0"},
    {"bind=0.0.0.0\n",
     "is not in CAF's INI format (line 1, column 9: trailing character)"},
  };
  for (auto& c : cases) {
    std::ofstream{file, std::ios::trunc} << c.text;
    auto result = run_to_completion(
      jobwire_binary(),
      {"--config-file=" + file, "--data-dir=" + dir.path(), "--port=0"}, 10s);
    BOOST_TEST((result.status.exited && result.status.code == 1),
               c.text << ": " << result.status.to_string());
    BOOST_TEST(result.err.find("jobwire: the config file '" + file)
                 != std::string::npos,
               c.text << ": stderr: " << result.err);
    BOOST_TEST(result.err.find(c.says) != std::string::npos,
               c.text << ": stderr: " << result.err);
  }
  // A good one is taken, CAF's own sections included.
  std::ofstream{file, std::ios::trunc}
    << "; jobwire\n[global]\nheartbeat=7\n[scheduler]\nmax-threads=2\n";
  auto dump = dumped_config({"--config-file=" + file});
  BOOST_TEST(dump.find("heartbeat = 7\n") != std::string::npos, dump);
  BOOST_TEST(dump.find("max-threads = 2\n") != std::string::npos, dump);
}

BOOST_AUTO_TEST_SUITE_END()
