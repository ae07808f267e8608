#define BOOST_TEST_MODULE access
#include <boost/test/unit_test.hpp>

// Access control from outside: the real server with --auth-secret-file, and
// tokens minted here with libjwt (good, expired, wrong secret, wrong scope,
// other job, alg none), plus origins and the non-loopback refusal.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>


#include "raw_socket.hpp"
#include "server_process.hpp"
#include "stream_helpers.hpp"
#include "support/signed_token.hpp"
#include "wire_checks.hpp"

using namespace jobwire::test;
using namespace std::chrono_literals;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef-secret";

/// An HS256 token with the given claims; `exp_in` seconds from now.
/// An empty `sub` leaves the claim out.
std::string mint(const std::string& jobs_json, const std::string& scope,
                 long exp_in = 3600, const std::string& key = secret,
                 const std::string& sub = "tester") {
  auto exp = static_cast<long>(std::time(nullptr)) + exp_in;
  return signed_token((sub.empty() ? "{" : R"({"sub":")" + sub + R"(",)")
                        + R"("exp":)" + std::to_string(exp) + R"(,"scope":")"
                        + scope + R"(","jobs":)" + jobs_json + "}",
                      key);
}

/// The classic forgery: a token that says it needs no signature.
std::string alg_none_token() {
  auto exp = static_cast<long>(std::time(nullptr)) + 3600;
  return signed_token(R"({"sub":"mallory","exp":)" + std::to_string(exp)
                        + R"(,"scope":"view cancel publish","jobs":["*"]})",
                      "");
}

struct fixture {
  std::string secret_file = [] {
    char tmpl[] = "/tmp/jobwire-secret-XXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    std::ofstream{tmpl} << secret << "\n";
    return std::string{tmpl};
  }();
  server_process server{{"--auth-secret-file=" + secret_file,
                         "--allowed-origins=https://app.example"}};
  http_client http{server.port()};

  ~fixture() {
    std::remove(secret_file.c_str());
  }

  http_client::header_list bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }

  int upgrade_status(const std::string& path) {
    ws_client ws;
    return ws.try_connect(server.port(), path);
  }

  /// A raw upgrade with extra header lines; the response status.
  int raw_upgrade(const std::string& extra_headers) {
    raw_socket s;
    s.connect(server.port());
    s.send("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           + extra_headers + "\r\n");
    auto reply = s.read_http_reply();
    return reply ? reply->status : 0;
  }

  ws_client open_with(const std::string& token, std::string* id = nullptr) {
    ws_client ws;
    ws.connect(server.port(), "/v1/ws?token=" + token);
    auto hello = ws.read_json();
    check_string(hello, "type", "connected");
    if (id)
      *id = hello["connection_id"].as_string();
    return ws;
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(access_rules, fixture)

BOOST_AUTO_TEST_CASE(upgrade_needs_a_valid_token) {
  auto good = mint(R"(["job_a"])", "view");
  BOOST_TEST(upgrade_status("/v1/ws") == 401);
  BOOST_TEST(upgrade_status("/v1/ws?token=" + good) == 101);
  BOOST_TEST(upgrade_status("/v1/ws?token=" + mint(R"(["job_a"])", "view", -5))
             == 401); // expired
  BOOST_TEST(upgrade_status("/v1/ws?token="
                            + mint(R"(["job_a"])", "view", 3600,
                                   "another-secret-another-secret-xx"))
             == 401); // wrong secret
  BOOST_TEST(upgrade_status("/v1/ws?token=" + alg_none_token()) == 401);
  BOOST_TEST(upgrade_status("/v1/ws?token=garbage") == 401);
  BOOST_TEST(raw_upgrade("Authorization: Bearer " + good + "\r\n") == 101);
  // A URL encoder may have escaped the token's dots.
  std::string escaped;
  for (char c : good)
    escaped += c == '.' ? std::string{"%2E"} : std::string{c};
  BOOST_TEST(upgrade_status("/v1/ws?token=" + escaped) == 101);
  BOOST_TEST(http.request("GET", "/v1/jobs/job_a/connections?token=" + escaped)
               .status
             == 200);
}

BOOST_AUTO_TEST_CASE(origins_outside_the_allowlist_are_refused) {
  auto good = mint(R"(["job_a"])", "view");
  auto auth = "Authorization: Bearer " + good + "\r\n";
  BOOST_TEST(raw_upgrade(auth + "Origin: https://app.example\r\n") == 101);
  BOOST_TEST(raw_upgrade(auth + "Origin: https://evil.example\r\n") == 403);
  // The listed page may publish from a browser too; another may not.
  auto publish = [&](const std::string& origin) {
    return http
      .request("POST", "/v1/jobs/job_a/events",
               R"({"type":"progress_update","stage":"s","progress":1})",
               {{"Authorization", "Bearer " + mint(R"(["job_a"])", "publish")},
                {"Origin", origin}})
      .status;
  };
  BOOST_TEST(publish("https://app.example") == 202);
  BOOST_TEST(publish("https://evil.example") == 403);
}

BOOST_AUTO_TEST_CASE(view_is_not_cancel_and_jobs_are_checked) {
  auto ws = open_with(mint(R"(["job_a","batch_*"])", "view"));
  auto sub = [&](const std::string& job) {
    ws.send_text(R"({"type":"subscribe","job_id":")" + job + R"("})");
    return ws.read_json();
  };
  check_string(sub("job_a"), "type", "subscribed");
  check_string(sub("batch_17"), "type", "subscribed"); // prefix
  auto denied = sub("job_b");
  check_string(denied, "type", "error");
  check_string(denied, "code", "unauthorized");
  // Publishing needs the publish scope; then cancel needs cancel.
  auto pub = mint(R"(["job_a"])", "publish");
  auto res = http.request("POST", "/v1/jobs/job_a/events",
                          R"({"type":"progress_update","stage":"s","progress":1})",
                          bearer(pub));
  BOOST_TEST_REQUIRE(res.status == 202, res.to_string());
  ws.read_json(); // the event
  ws.send_text(R"({"type":"cancel_job","job_id":"job_a"})");
  auto no_cancel = ws.read_json();
  check_string(no_cancel, "code", "unauthorized");
  // A cancel_job may carry its own token for that job.
  ws.send_text(R"({"type":"cancel_job","job_id":"job_a","token":")"
               + mint(R"(["job_a"])", "cancel") + R"("})");
  check_string(ws.read_json(), "type", "cancel_requested");
  check_string(ws.read_json(), "type", "job_cancelled");
}

BOOST_AUTO_TEST_CASE(http_needs_the_matching_scope) {
  auto body = R"({"type":"progress_update","stage":"s","progress":1})";
  auto none = http.request("POST", "/v1/jobs/job_h/events", body);
  BOOST_TEST(none.status == 401);
  check_string(none.json(), "code", "unauthorized");
  // RFC 6750's challenge: what to send, and whether what came is no good.
  BOOST_TEST(none.header("www-authenticate") == R"(Bearer realm="jobwire")");
  auto expired = http.request("GET", "/v1/jobs/job_h", std::nullopt,
                              bearer(mint(R"(["job_h"])", "view", -5)));
  BOOST_TEST(expired.status == 401);
  BOOST_TEST(expired.header("www-authenticate")
             == R"(Bearer realm="jobwire", error="invalid_token")");
  // Only a bearer token counts as sent: not another scheme, nor a query
  // parameter that merely ends in "token".
  auto basic = http.request("GET", "/v1/jobs/job_h?mytoken=x", std::nullopt,
                            {{"Authorization", "Basic dXNlcjpwYXNz"}});
  BOOST_TEST(basic.status == 401);
  BOOST_TEST(basic.header("www-authenticate") == R"(Bearer realm="jobwire")");
  auto view = http.request("POST", "/v1/jobs/job_h/events", body,
                           bearer(mint(R"(["job_h"])", "view")));
  BOOST_TEST(view.status == 403);
  auto other = http.request("POST", "/v1/jobs/job_h/events", body,
                            bearer(mint(R"(["job_x"])", "publish")));
  BOOST_TEST(other.status == 403);
  auto ok = http.request("POST", "/v1/jobs/job_h/events", body,
                         bearer(mint(R"(["job_*"])", "publish")));
  BOOST_TEST(ok.status == 202);
  // Unauthorized whether or not the job exists.
  BOOST_TEST(http.request("GET", "/v1/jobs/nope", std::nullopt,
                          bearer(mint(R"(["job_h"])", "view")))
               .status
             == 403);
  BOOST_TEST(http.request("POST", "/v1/jobs/job_h/cancel", std::nullopt,
                          bearer(mint(R"(["job_h"])", "view publish")))
               .status
             == 403);
  BOOST_TEST(http.request("GET", "/v1/jobs/job_h", std::nullopt,
                          bearer(mint(R"(["job_h"])", "view")))
               .status
             == 200);
  // Denials are counted.
  auto metrics = http.get("/metrics");
  BOOST_TEST(metrics.body.find("jobwire_access_denied_total 0")
             == std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_the_same_subject_resumes_a_connection) {
  auto as = [](const std::string& sub) {
    return mint(R"(["shared","mine"])", "view", 3600, secret, sub);
  };
  std::string id;
  auto alice = open_with(as("alice"), &id);
  for (auto job : {"shared", "mine"}) {
    alice.send_text(R"({"type":"subscribe","job_id":")" + std::string{job}
                    + R"("})");
    check_string(alice.read_json(), "type", "subscribed");
  }
  auto resume = R"({"type":"resume","connection_id":")" + id + R"("})";
  // Another subject, even one that may view every job of it, and a token
  // without a subject take nothing over and close nothing.
  for (auto sub : {"bob", ""}) {
    BOOST_TEST_CONTEXT("sub '" << sub << "'") {
      auto other = open_with(as(sub));
      other.send_text(resume);
      auto refused = other.read_json();
      check_string(refused, "type", "error");
      check_string(refused, "code", "unauthorized");
    }
  }
  alice.send_text(R"({"type":"ping"})");
  check_string(alice.read_json(), "type", "pong");
  // Alice, on a new connection with a new token, takes it over.
  auto again = open_with(as("alice"));
  again.send_text(resume);
  auto resumed = again.read_json();
  check_string(resumed, "type", "resumed");
  BOOST_TEST(resumed["job_ids"].as_array().size() == 2u);
  BOOST_TEST(alice.wait_close().code == 1000);
}

BOOST_AUTO_TEST_CASE(a_subscription_by_its_own_token_ends_with_that_token) {
  auto ws = open_with(mint(R"(["job_conn"])", "view"));
  ws.send_text(R"({"type":"subscribe","job_id":"job_lent","token":")"
               + mint(R"(["job_lent"])", "view", 2) + R"("})");
  check_string(ws.read_json(), "type", "subscribed");
  auto pub = bearer(mint(R"(["job_lent"])", "publish"));
  auto event = R"({"type":"progress_update","stage":"s","progress":1})";
  BOOST_TEST_REQUIRE(
    http.request("POST", "/v1/jobs/job_lent/events", event, pub).status == 202);
  check_string(ws.read_json(), "type", "progress_update");
  // The token's expiry ends the subscription, not the connection.
  auto ended = ws.read_json(6s);
  check_string(ended, "type", "error");
  check_string(ended, "code", "unauthorized");
  check_string(ended, "job_id", "job_lent");
  auto gone = ws.read_json();
  check_string(gone, "type", "unsubscribed");
  check_string(gone, "job_id", "job_lent");
  BOOST_TEST_REQUIRE(
    http.request("POST", "/v1/jobs/job_lent/events", event, pub).status == 202);
  auto extra = ping_barrier(ws);
  BOOST_TEST(extra.empty(), "after the expiry: " << describe(extra));
}

BOOST_AUTO_TEST_CASE(a_token_that_expires_while_connected_closes_1008) {
  auto ws = open_with(mint(R"(["job_a"])", "view", 2));
  auto closed = ws.wait_close(6s);
  BOOST_TEST(closed.code == 1008, closed.to_string());
}

BOOST_AUTO_TEST_CASE(every_denial_is_counted_and_logged_at_most_once_a_second) {
  // A client that repeats a refused request must not fill the disk with
  // log lines: a line a second at most, each saying how many it held back.
  auto forged = bearer(mint(R"(["job_d"])", "view", 3600,
                            "another-secret-0123456789abcdef"));
  constexpr int burst = 40;
  auto start = clock_type::now();
  for (int i = 0; i < burst; ++i)
    BOOST_REQUIRE_EQUAL(
      http.request("GET", "/v1/jobs/job_d", std::nullopt, forged).status, 401);
  auto burst_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                         clock_type::now() - start)
                         .count();
  // After a quiet second, a denial over WebSocket gets a line of its own,
  // which counts what the burst held back: both paths share the limit.
  std::this_thread::sleep_for(1100ms);
  auto ws = open_with(mint(R"(["job_a"])", "view"));
  ws.send_text(R"({"type":"subscribe","job_id":"job_d"})");
  check_string(ws.read_json(), "code", "unauthorized");
  auto counted = read_metric(server.port(), "jobwire_access_denied_total");
  BOOST_TEST_REQUIRE(counted.has_value());
  BOOST_TEST(*counted == burst + 1);
  int lines = 0;
  long held_back = 0;
  std::string last;
  auto logged = eventually(
    [&] {
      lines = 0;
      held_back = 0;
      std::istringstream text{server.stderr_text()};
      for (std::string line; std::getline(text, line);) {
        if (line.find(R"("msg":"access denied")") == std::string::npos)
          continue;
        ++lines;
        last = line;
        auto at = line.find(R"("held_back":")");
        BOOST_REQUIRE_MESSAGE(at != std::string::npos, line);
        held_back += std::stol(line.substr(at + 13));
      }
      return last.find(R"("scope":"view","job_id":"job_d")")
               != std::string::npos
             && last.find(R"("connection_id":"")") == std::string::npos;
    },
    5s);
  BOOST_TEST_REQUIRE(logged, "the WebSocket denial's line: " << last);
  BOOST_TEST(lines + held_back == burst + 1);
  BOOST_TEST(lines <= burst_seconds + 2,
             lines << " lines for a burst of " << burst_seconds << " s");
  BOOST_TEST(last.find(R"("held_back":"0")") == std::string::npos, last);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(non_loopback_bind_without_a_secret_refuses_to_start) {
  bool refused = false;
  try {
    server_process s{{"--bind=0.0.0.0"}};
  } catch (const std::exception& e) {
    refused = std::string{e.what()}.find("allow-anonymous") != std::string::npos;
  }
  BOOST_TEST(refused);
  // Allowed, it starts, and the log says what it means.
  temp_data_dir dir;
  auto open = run_to_completion(jobwire_binary(),
                                {"--bind=0.0.0.0", "--allow-anonymous",
                                 "--port=0", "--caf-port=0",
                                 "--data-dir=" + dir.data()},
                                3s);
  BOOST_TEST(open.out.find("listening") != std::string::npos, open.err);
  BOOST_TEST(open.err.find("serving anyone who can reach the port")
               != std::string::npos,
             open.err);
}
