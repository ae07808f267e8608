// Cross-process: jobwire-pipeline publish against the real jobwire; event id
// deduplication; peers that are not jobwire pipelines; no server at all.

#define BOOST_TEST_MODULE pipeline_ingest
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/error_code.hpp"
#include "messages/ingest.hpp"
#include "messages/log.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"
#include "local_pipeline.hpp"
#include "pipeline_fixture.hpp"
#include "raw_socket.hpp"

using namespace jobwire::test;
using namespace std::chrono_literals;
namespace pl = jobwire::pipeline;

namespace {

using clock_type = std::chrono::steady_clock;

/// Not jobwire's interface.
using other_actor
  = caf::typed_actor<caf::replies_to<std::string>::with<std::string>>;

/// Runs `publish`, requires exit 0 and returns the seq it printed.
int64_t publish_ok(pipeline_fixture& f, std::vector<std::string> args) {
  auto res = f.run_pipeline("publish", std::move(args));
  BOOST_REQUIRE_MESSAGE(res.status.exited && res.status.code == 0,
                        "publish " << res.status.to_string()
                                   << "; stderr: " << res.err);
  BOOST_REQUIRE_MESSAGE(!res.out.empty() && res.out.back() == '\n',
                        "publish printed " << res.out);
  auto line = res.out.substr(0, res.out.size() - 1);
  BOOST_REQUIRE_MESSAGE(line.find('\n') == std::string::npos
                          && line.find_first_not_of("0123456789")
                               == std::string::npos,
                        "publish should print the seq alone, printed: "
                          << res.out);
  return std::stoll(line);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(pipeline_ingest, pipeline_fixture)

BOOST_AUTO_TEST_CASE(publish_prints_the_seq_of_each_type) {
  auto job = unique_job_id("pub");
  auto j = "--job=" + job;
  BOOST_TEST(publish_ok(*this, {j, "--type=progress_update", "--stage=s1",
                                "--progress=12.5", "--message=hello world",
                                "--eta=30", "--correlation-id=corr-7"})
             == 1);
  BOOST_TEST(publish_ok(*this, {j, "--type=progress_update", "--stage=s1",
                                "--progress=20"})
             == 2);
  BOOST_TEST(publish_ok(*this, {j, "--type=stage_complete", "--stage=s1",
                                R"(--results={"rooms": [1, 2]})"})
             == 3);
  BOOST_TEST(publish_ok(*this, {j, "--type=job_failed", "--stage=s2",
                                "--error-code=oom",
                                "--error-message=out of memory"})
             == 4);
  auto ws = watch(job, 0);
  auto xs = events_until(ws, "job_failed", 5s);
  BOOST_REQUIRE_EQUAL(xs.size(), 4u);
  check_progress_update(xs[0], job, 1, "s1", 12.5, "hello world", 30.0,
                        "corr-7");
  check_string(xs[1], "message", "");
  check_stage_complete(xs[2], job, 3, "s1", R"({"rooms":[1,2]})");
  check_string(xs[3]["error"], "code", "oom");
  check_string(xs[3]["error"], "message", "out of memory");
  check_string(xs[3]["error"], "stage", "s2");
  // A cancelled job too.
  auto job2 = unique_job_id("pub");
  BOOST_TEST(publish_ok(*this, {"--job=" + job2, "--type=job_cancelled",
                                "--reason=no longer needed"})
             == 1);
  auto ws2 = watch(job2, 0);
  auto ys = events_until(ws2, "job_cancelled", 5s);
  BOOST_REQUIRE_EQUAL(ys.size(), 1u);
  check_job_cancelled(ys[0], job2, 1, "no longer needed");
}

BOOST_AUTO_TEST_CASE(a_duplicate_event_id_is_stored_once_with_the_first_seq) {
  auto job = unique_job_id("dedup");
  auto j = "--job=" + job;
  std::vector<std::string> first{j, "--type=progress_update", "--stage=s",
                                 "--progress=10", "--message=first",
                                 "--event-id=ev-1"};
  BOOST_TEST(publish_ok(*this, first) == 1);
  // The same event id again, even with other content: the first seq.
  BOOST_TEST(publish_ok(*this, first) == 1);
  BOOST_TEST(publish_ok(*this, {j, "--type=progress_update", "--stage=s",
                                "--progress=90", "--message=changed",
                                "--event-id=ev-1"})
             == 1);
  BOOST_TEST(publish_ok(*this, {j, "--type=progress_update", "--stage=s",
                                "--progress=20", "--event-id=ev-2"})
             == 2);
  // A terminal event retried after the job finished: still its seq.
  std::vector<std::string> done{j, "--type=job_complete",
                                R"(--results={"ok":true})",
                                "--event-id=ev-3"};
  BOOST_TEST(publish_ok(*this, done) == 3);
  BOOST_TEST(publish_ok(*this, done) == 3);
  BOOST_TEST(publish_ok(*this, first) == 1); // however late the retry
  // Only three events are stored and sent.
  http_client http{port()};
  auto snap = http.get(job_path(job));
  BOOST_REQUIRE_EQUAL(snap.status, 200);
  check_int(snap.json(), "last_seq", 3);
  check_string(snap.json(), "status", "completed");
  auto ws = watch(job, 0);
  auto xs = events_until(ws, "job_complete", 5s);
  BOOST_REQUIRE_EQUAL(xs.size(), 3u);
  check_string(xs[0], "message", "first");
  check_number(xs[0], "progress", 10);
  check_int(xs[1], "seq", 2);
  check_job_complete(xs[2], job, 3, R"({"ok":true})");
  auto extra = ws.read_frame(300ms);
  BOOST_TEST(!extra.has_value(), "unexpected: " << extra->payload);
  // A new event after the end is refused, with a clear message.
  auto res = run_pipeline("publish", {j, "--type=progress_update",
                                      "--stage=s", "--progress=50"});
  BOOST_TEST(res.status.code == 1, res.status.to_string());
  BOOST_TEST(res.out.empty(), res.out);
  BOOST_TEST(res.err.starts_with("jobwire-pipeline: publish refused: "
                                 "job_finished"),
             res.err);
}

BOOST_AUTO_TEST_CASE(a_library_retry_with_the_same_event_id_gets_the_first_seq) {
  local_pipeline here{caf_port()};
  auto& cli = here.client();
  jobwire::job_event ev;
  ev.job_id = unique_job_id("libdedup");
  ev.type = jobwire::event_type::progress_update;
  ev.stage = "s";
  ev.progress = 1;
  ev.event_id = cli.next_event_id();
  auto a = cli.publish(ev);
  auto b = cli.publish(ev);
  BOOST_REQUIRE(a && b);
  BOOST_TEST(*a == 1u);
  BOOST_TEST(*b == 1u);
  ev.event_id.clear(); // a fresh id
  auto c = cli.publish(ev);
  BOOST_REQUIRE(c);
  BOOST_TEST(*c == 2u);
  auto snap = cli.status(ev.job_id);
  BOOST_REQUIRE_MESSAGE(snap, pl::error_text(snap));
  BOOST_TEST(snap->last_seq == 2u);
}

BOOST_AUTO_TEST_CASE(bad_events_are_refused_with_a_clear_message) {
  auto job = unique_job_id("bad");
  auto res = run_pipeline("publish", {"--job=" + job,
                                      "--type=progress_update",
                                      "--stage=s", "--progress=150"});
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.err.find("refused: invalid_message") != std::string::npos,
             res.err);
  BOOST_TEST(res.err.find("progress") != std::string::npos, res.err);
  res = run_pipeline("publish", {"--job=bad job", "--type=job_complete"});
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.err.find("invalid_job_id") != std::string::npos, res.err);
  res = run_pipeline("publish", {"--job=" + job, "--type=job_complete",
                                 "--results=[1]"});
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.err.find("results") != std::string::npos, res.err);
  // Usage errors: exit 2.
  res = run_pipeline("publish", {"--job=" + job, "--type=bogus"});
  BOOST_TEST(res.status.code == 2);
  BOOST_TEST(res.err.find("--type") != std::string::npos, res.err);
  res = run_pipeline("publish", {"--job=" + job, "--type=progress_update",
                                 "--progress=abc"});
  BOOST_TEST(res.status.code == 2);
  // In words, not CAF's parser_error(...); a timeout of 0 timed every
  // request out against a server that was up.
  for (auto [arg, says] : std::vector<std::pair<std::string, std::string>>{
         {"--nope", "unknown option --nope"},
         {"--request-timeout-ms=0", "--request-timeout-ms=0 is out of range"},
         {"--connect-attempts=0", "--connect-attempts=0 is out of range"},
         // A file it was given is checked as the server's is.
         {"--config-file=/nonexistent.ini",
          "cannot read the config file '/nonexistent.ini'"},
         {"--config-file=/dev/zero", "the config file '/dev/zero' holds more"}}) {
    res = run_pipeline("publish", {"--job=" + job, "--type=job_complete", arg});
    BOOST_TEST(res.status.code == 2, arg);
    BOOST_TEST(res.err.find(says) != std::string::npos, res.err);
  }
  // run's options, checked before it connects (a thread per job: reserving
  // 2^63 of them aborted with length_error). A run of no stages was one
  // job_complete; a bad prefix was found by the server only.
  for (auto [arg, says] : std::vector<std::pair<std::string, std::string>>{
         {"--jobs=9223372036854775807", "--jobs=9223372036854775807 is out of "
                                        "range: it must be from 1 to 1000"},
         {"--stages=0", "--stages=0 is out of range"},
         {"--steps=0", "--steps=0 is out of range"},
         {"--stage-ms=99999999999", "--stage-ms=99999999999 is out of range"},
         {"--job-prefix=bad prefix", "--job-prefix='bad prefix' makes no "
                                     "valid job id"},
         {"--eta=maybe", "run takes --eta=true or --eta=false"}}) {
    res = run_pipeline("run", {arg, "--connect-attempts=1"});
    BOOST_TEST(res.status.code == 2, arg << ": " << res.status.to_string());
    BOOST_TEST(res.err.find(says) != std::string::npos, res.err);
  }
  // Nothing was stored.
  http_client http{port()};
  BOOST_TEST(http.get(job_path(job)).status == 404);
}

BOOST_AUTO_TEST_CASE(a_peer_with_the_wrong_interface_gets_a_clear_error) {
  jobwire::log::init("off");
  pipeline_config cfg;
  caf::actor_system sys{cfg};
  // A typed handle of another interface.
  auto other = sys.middleman().remote_actor<other_actor>("127.0.0.1",
                                                         caf_port());
  BOOST_REQUIRE(!other);
  BOOST_TEST((other.error() == caf::sec::unexpected_actor_messaging_interface),
             sys.render(other.error()));
  BOOST_TEST_MESSAGE("remote_actor<other_actor>: "
                     << sys.render(other.error()));
  // An untyped handle to the typed ingest actor.
  auto untyped = sys.middleman().remote_actor("127.0.0.1", caf_port());
  BOOST_REQUIRE(!untyped);
  BOOST_TEST((untyped.error() == caf::sec::unexpected_actor_messaging_interface), pl::error_text(untyped));
  // The server carries on: health, and a publish from a real pipeline.
  BOOST_TEST(server().running());
  http_client http{port()};
  BOOST_TEST(http.get("/healthz").status == 200);
  auto job = unique_job_id("after");
  BOOST_TEST(publish_ok(*this, {"--job=" + job, "--type=progress_update",
                                "--stage=s", "--progress=1"})
             == 1);
  // And the right interface from the same process works.
  auto ingest = sys.middleman().remote_actor<jobwire::ingest_actor>(
    "127.0.0.1", caf_port());
  BOOST_REQUIRE_MESSAGE(ingest, (ingest ? "" : sys.render(ingest.error())));
  caf::scoped_actor self{sys};
  self->request(*ingest, 5s, jobwire::status_atom::value, job)
    .receive([&](jobwire::job_snapshot& x) { BOOST_TEST(x.last_seq == 1u); },
             [&](caf::error& err) { BOOST_ERROR(sys.render(err)); });
}

BOOST_AUTO_TEST_CASE(a_peer_that_speaks_no_caf_does_no_harm) {
  {
    raw_socket sock;
    sock.connect(caf_port());
    sock.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string junk(4096, '\xff');
    sock.send(junk);
    BOOST_TEST_MESSAGE("the server closed the junk connection: "
                       << std::boolalpha << sock.wait_eof(3s));
  }
  BOOST_TEST(server().running());
  http_client http{port()};
  BOOST_TEST(http.get("/healthz").status == 200);
  auto job = unique_job_id("junk");
  BOOST_TEST(publish_ok(*this, {"--job=" + job, "--type=job_complete"}) == 1);
}

BOOST_AUTO_TEST_CASE(an_ipv6_loopback_bind_serves_pipelines_on_it_too) {
  // The CAF port stayed on 127.0.0.1 whatever --bind said: a pipeline
  // given the server's own address, ::1, could not reach it.
  // Its data directory goes inside the fixture server's temp dir.
  child_process server{jobwire_binary(),
                       {"--bind=::1", "--port=0", "--caf-port=0",
                        "--data-dir=" + this->server().temp_dir() + "/v6"}};
  std::optional<uint16_t> caf_port;
  while (auto line = server.read_line(15s)) {
    constexpr std::string_view prefix = "jobwire caf port ";
    if (line->starts_with(prefix)) {
      caf_port = static_cast<uint16_t>(std::stoi(line->substr(prefix.size())));
      break;
    }
  }
  BOOST_REQUIRE_MESSAGE(caf_port, server.stderr_text());
  auto job = unique_job_id("v6");
  auto res = run_to_completion(pipeline_binary(),
                               {"publish", "--host=::1", "--job=" + job,
                                "--type=job_complete",
                                "--caf-port=" + std::to_string(*caf_port)},
                               20s);
  BOOST_TEST(res.status.code == 0, res.err);
  BOOST_TEST(res.out == "1\n");
}

BOOST_AUTO_TEST_CASE(clients_holding_every_socket_leave_descriptors_for_pipelines) {
  // HTTP and WebSocket clients may take only part of the descriptor limit;
  // the rest is the pipelines' (and the store's). When clients took it all,
  // a pipeline could not connect, and CAF's accept loop spun on the full
  // table.
  constexpr rlim_t limit = 256; // 192 for clients
  server_process srv{{}, 15s, limit};
  auto caf = read_caf_port(srv);
  std::vector<std::unique_ptr<raw_socket>> held;
  for (int i = 0; i < 240; ++i) {
    held.push_back(std::make_unique<raw_socket>());
    held.back()->connect(srv.port());
  }
  // Those past the clients' share are closed at accept, not left queued.
  BOOST_TEST(held.back()->wait_eof(5s));
  auto job = unique_job_id("fds");
  auto res = run_to_completion(pipeline_binary(),
                               {"publish", "--job=" + job,
                                "--type=job_complete",
                                "--caf-port=" + std::to_string(caf),
                                "--connect-attempts=2",
                                "--request-timeout-ms=3000"},
                               30s);
  BOOST_TEST(res.status.code == 0, res.err);
  BOOST_TEST(res.out == "1\n");
  BOOST_TEST(srv.stderr_text().find("client sockets hold every descriptor")
               != std::string::npos,
             srv.stderr_tail(5));
}

BOOST_AUTO_TEST_CASE(without_a_server_both_commands_fail_clearly) {
  auto port = unused_port();
  // It says it tried more than once (three by default).
  auto expected = "jobwire-pipeline: cannot reach jobwire at 127.0.0.1:"
                  + std::to_string(port) + " (3 attempts): ";
  auto bin = pipeline_binary();
  auto t0 = clock_type::now();
  auto res = run_to_completion(bin, {"publish", "--job=j", "--type=job_complete",
                                     "--caf-port=" + std::to_string(port)},
                               20s);
  BOOST_TEST(res.status.exited);
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.out.empty());
  BOOST_TEST(res.err.starts_with(expected), res.err);
  BOOST_TEST(std::count(res.err.begin(), res.err.end(), '\n') == 1,
             "one line: " << res.err);
  BOOST_TEST((clock_type::now() - t0 < 5s));
  res = run_to_completion(bin, {"run", "--jobs=2",
                                "--caf-port=" + std::to_string(port)},
                          20s);
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.out.empty());
  BOOST_TEST(res.err.starts_with(expected), res.err);
  // An event the server would refuse is refused for what it is, before
  // any attempt to connect (it said "cannot reach jobwire").
  res = run_to_completion(bin, {"publish", "--job=j", "--type=job_complete",
                                "--results=[1]",
                                "--caf-port=" + std::to_string(port)},
                          20s);
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.err
               == "jobwire-pipeline: publish refused: invalid_message: field "
                  "'results' must be a JSON object\n",
             res.err);
  // Something that is not CAF on the port: the HTTP port.
  res = run_to_completion(bin, {"publish", "--job=j", "--type=job_complete",
                                "--caf-port=" + std::to_string(this->port()),
                                "--connect-attempts=1",
                                "--request-timeout-ms=1000"},
                          20s);
  BOOST_TEST(res.status.code == 1);
  BOOST_TEST(res.err.starts_with("jobwire-pipeline: cannot reach jobwire at "
                                 "127.0.0.1:"
                                 + std::to_string(this->port()) + ": "),
             res.err);
  // And --help explains both commands.
  res = run_to_completion(bin, {"--help"}, 5s);
  BOOST_TEST(res.status.code == 0);
  BOOST_TEST(res.out.find("run") != std::string::npos);
  BOOST_TEST(res.out.find("publish") != std::string::npos);
  BOOST_TEST(res.out.find("--caf-port") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
