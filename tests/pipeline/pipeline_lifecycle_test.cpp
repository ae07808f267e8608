// Cross-process: jobwire-pipeline runs jobs against the real jobwire while
// WebSocket clients watch; cancel and worker loss end jobs.

#define BOOST_TEST_MODULE pipeline_lifecycle
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/log.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"
#include "pipeline/job_handle.hpp"
#include "local_pipeline.hpp"
#include "pipeline_fixture.hpp"
#include "stream_helpers.hpp"

using namespace jobwire::test;
using namespace std::chrono_literals;
namespace pl = jobwire::pipeline;

namespace {

// The job id a `run` prints first; fails the test when none comes.
std::string read_job_id(child_process& proc) {
  auto line = proc.read_line(15s);
  BOOST_REQUIRE_MESSAGE(line.has_value() && !line->empty(),
                        "jobwire-pipeline printed no job id; stderr: "
                          << proc.stderr_text());
  return *line;
}

// Reads events until the first progress_update: the job exists then.
void await_first_progress(ws_client& ws, child_process& proc) {
  auto xs = pipeline_fixture::events_until(ws, "progress_update", 10s);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "progress_update",
                        "no progress_update; got: "
                          << describe(xs)
                          << "; pipeline stderr: " << proc.stderr_text());
}

/// A jobwire of the test's own, on its own ports and data directory, that
/// the test can kill and start again as it was.
struct restartable_server {
  temp_data_dir dir;
  uint16_t port = unused_port();
  uint16_t caf_port = unused_port();
  std::vector<std::string> args;

  explicit restartable_server(std::vector<std::string> options)
    : args{dir.option(), "--port=" + std::to_string(port),
           "--caf-port=" + std::to_string(caf_port)} {
    args.insert(args.end(), options.begin(), options.end());
  }

  std::unique_ptr<server_process> start() const {
    return std::make_unique<server_process>(args);
  }
};

/// `jobwire-pipeline run --jobs=1 args...` against `own`; returns the
/// process and its job's id once the job's first progress is stored.
std::pair<std::unique_ptr<child_process>, std::string>
run_one_job(const restartable_server& own, std::vector<std::string> args) {
  args.insert(args.begin(), {"run", "--jobs=1"});
  args.push_back("--caf-port=" + std::to_string(own.caf_port));
  auto proc = std::make_unique<child_process>(
    pipeline_fixture::pipeline_binary(), args);
  auto job_id = read_job_id(*proc);
  auto ws = open_ws(own.port);
  subscribe(ws, job_id, 0);
  await_first_progress(ws, *proc);
  return {std::move(proc), std::move(job_id)};
}

/// Aborts the test process, naming `what`, unless disarmed within
/// `limit`: a teardown that hangs would otherwise stall the suite silently.
class watchdog {
public:
  watchdog(std::string what, std::chrono::seconds limit)
    : thread_([this, what = std::move(what), limit] {
        std::unique_lock guard{mtx_};
        if (!cv_.wait_for(guard, limit, [this] { return done_; })) {
          std::fprintf(stderr, "%s: still waiting after %lld s\n",
                       what.c_str(), static_cast<long long>(limit.count()));
          std::abort();
        }
      }) {
    // nop
  }

  ~watchdog() {
    {
      std::lock_guard guard{mtx_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(pipeline_lifecycle, pipeline_fixture)

BOOST_AUTO_TEST_CASE(a_watcher_sees_the_whole_lifecycle_of_a_run) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=2", "--steps=3",
                                     "--stage-ms=600", "--job-prefix=life"});
  auto job_id = read_job_id(*proc);
  BOOST_TEST(job_id.starts_with("life_"));
  // since_seq 0 replays what was published before the subscribe.
  auto ws = watch(job_id, 0);
  auto xs = events_until(ws, "job_complete", 20s);
  BOOST_REQUIRE_MESSAGE(xs.size() == 9u, "expected 3 progress_update + "
                                         "stage_complete, twice, then "
                                         "job_complete; got: "
                                           << types_of(xs));
  int64_t seq = 0;
  size_t i = 0;
  for (int stage = 1; stage <= 2; ++stage) {
    auto name = "stage_" + std::to_string(stage);
    for (int k = 0; k < 3; ++k) {
      auto& x = xs[i++];
      BOOST_TEST_CONTEXT("event " << x) {
        BOOST_TEST(type_of(x) == "progress_update");
        check_string(x, "job_id", job_id);
        check_int(x, "seq", ++seq);
        check_string(x, "stage", name);
        check_number(x, "progress", 100.0 * k / 3);
        check_string(x, "message", "stage " + std::to_string(stage)
                                     + " of 2, step " + std::to_string(k + 1)
                                     + " of 3");
        // run gives an ETA: the steps left times the step time.
        auto eta = x.find("estimated_seconds_remaining");
        BOOST_REQUIRE(eta != nullptr);
        BOOST_REQUIRE(eta->is_number());
        BOOST_TEST(eta->as_number() == ((2 - stage) * 3 + (3 - k)) * 0.2,
                   boost::test_tools::tolerance(1e-9));
        check_timestamp(x);
      }
    }
    check_stage_complete(xs[i++], job_id, ++seq, name,
                         R"({"stage":)" + std::to_string(stage)
                           + R"(,"items":)" + std::to_string(stage * 10)
                           + "}");
  }
  check_job_complete(xs[i], job_id, ++seq, R"({"stages":2})");
  auto status = proc->wait(10s);
  BOOST_TEST(status.exited);
  BOOST_TEST(status.code == 0, "run " << status.to_string() << "; stderr: "
                                      << proc->stderr_text());
  http_client http{port()};
  auto snap = http.get(job_path(job_id));
  BOOST_REQUIRE_EQUAL(snap.status, 200);
  check_string(snap.json(), "status", "completed");
  check_int(snap.json(), "last_seq", 9);
}

BOOST_AUTO_TEST_CASE(several_jobs_run_at_once) {
  auto proc = start_pipeline("run", {"--jobs=4", "--stages=1", "--steps=2",
                                     "--stage-ms=400", "--job-prefix=multi"});
  std::set<std::string> ids;
  for (int i = 0; i < 4; ++i)
    ids.insert(read_job_id(*proc));
  BOOST_TEST(ids.size() == 4u);
  auto status = proc->wait(15s);
  BOOST_TEST(status.code == 0, status.to_string() << "; stderr: "
                                                  << proc->stderr_text());
  http_client http{port()};
  for (auto& id : ids) {
    auto snap = http.get(job_path(id));
    BOOST_REQUIRE_EQUAL(snap.status, 200);
    check_string(snap.json(), "status", "completed");
    check_int(snap.json(), "last_seq", 4); // 2 progress, stage, complete
  }
}

BOOST_AUTO_TEST_CASE(a_websocket_cancel_reaches_the_worker) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=3", "--steps=5",
                                     "--stage-ms=5000", "--job-prefix=wscancel"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  await_first_progress(ws, *proc);
  // A second watcher that does not cancel.
  auto bystander = watch(job_id, 0);
  auto t0 = clock_type::now();
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(job_id)
               + R"(,"reason":"stop it","request_id":"c1"})");
  // The reply comes before the event it causes.
  std::vector<json_value> before;
  auto reply = ws.read_until(
    [](const json_value& x) {
      auto t = type_of(x);
      return t == "cancel_requested" || t == "job_cancelled"
             || t == "error";
    },
    5s, &before);
  BOOST_REQUIRE_MESSAGE(type_of(reply) == "cancel_requested",
                        "expected cancel_requested first, got " << reply);
  check_string(reply, "job_id", job_id);
  check_string(reply, "request_id", "c1");
  // The worker stops at once (it waits on the cancel, not on the step).
  auto xs = events_until(ws, "job_cancelled", 5s);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_cancelled",
                        "no job_cancelled; got " << types_of(xs)
                                                 << "; pipeline stderr: "
                                                 << proc->stderr_text());
  auto elapsed = ms_since(t0);
  BOOST_TEST(elapsed < 3000, "job_cancelled took " << elapsed << " ms");
  auto& cancelled = xs.back();
  check_string(cancelled, "reason", "stop it");
  check_keys(cancelled, {"type", "job_id", "seq", "reason", "timestamp"});
  // Nothing of the job after its terminal event.
  auto after = ws.read_frame(500ms);
  BOOST_TEST(!after.has_value(), "after job_cancelled: " << after->payload);
  // The bystander sees the job end the same way.
  auto ys = events_until(bystander, "job_cancelled", 5s);
  BOOST_REQUIRE(!ys.empty());
  BOOST_TEST(ys.back() == cancelled);
  // The pipeline ends cleanly.
  auto status = proc->wait(5s);
  BOOST_TEST(status.code == 0, status.to_string());
  BOOST_TEST(proc->stderr_text().find("cancelled: stop it")
               != std::string::npos,
             "stderr: " << proc->stderr_text());
  http_client http{port()};
  auto snap = http.get(job_path(job_id));
  BOOST_REQUIRE_EQUAL(snap.status, 200);
  check_string(snap.json(), "status", "cancelled");
  check_bool(snap.json(), "cancel_requested", true);
}

BOOST_AUTO_TEST_CASE(an_http_cancel_reaches_the_worker) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=3", "--steps=5",
                                     "--stage-ms=5000",
                                     "--job-prefix=httpcancel"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  await_first_progress(ws, *proc);
  http_client http{port()};
  auto res = http.post(job_path(job_id) + "/cancel", R"({"reason":"via http"})");
  BOOST_TEST((res.status >= 200 && res.status < 300), res.to_string());
  std::vector<json_value> others;
  auto xs = events_until(ws, "job_cancelled", 5s, &others);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_cancelled",
                        "no job_cancelled; got " << types_of(xs));
  check_string(xs.back(), "reason", "via http");
  BOOST_TEST_MESSAGE("frames besides events for the watcher of an HTTP "
                     "cancel: "
                     << describe(others));
  auto status = proc->wait(5s);
  BOOST_TEST(status.code == 0, status.to_string());
}

BOOST_AUTO_TEST_CASE(kill_9_of_the_pipeline_fails_the_job_with_worker_lost) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=3",
                                     "--stage-ms=5000", "--job-prefix=killed"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  await_first_progress(ws, *proc);
  auto t0 = clock_type::now();
  proc->signal(SIGKILL);
  auto status = proc->wait(5s);
  BOOST_REQUIRE_EQUAL(status.signal, SIGKILL);
  // Grace 1 s, plus noticing the loss (the TCP connection closes at once).
  auto xs = events_until(ws, "job_failed", 10s);
  auto elapsed = ms_since(t0);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_failed",
                        "no job_failed within 10 s; got " << types_of(xs));
  for (size_t i = 0; i + 1 < xs.size(); ++i)
    BOOST_TEST(type_of(xs[i]) == "progress_update"); // nothing else first
  auto& failed = xs.back();
  check_keys(failed, {"type", "job_id", "seq", "error", "timestamp"});
  check_string(failed, "job_id", job_id);
  BOOST_REQUIRE(failed.contains("error"));
  check_string(failed["error"], "code", "worker_lost");
  BOOST_TEST(!failed["error"]["message"].as_string().empty());
  BOOST_TEST(elapsed >= 900, "worker_lost after " << elapsed
                                                  << " ms: grace ignored?");
  BOOST_TEST(elapsed < 6000, "worker_lost after " << elapsed << " ms");
  http_client http{port()};
  auto snap = http.get(job_path(job_id));
  BOOST_REQUIRE_EQUAL(snap.status, 200);
  check_string(snap.json(), "status", "failed");
}

BOOST_AUTO_TEST_CASE(sigterm_fails_the_jobs_with_worker_stopped_at_once) {
  // A pipeline stopped by its supervisor says so: job_failed with
  // worker_stopped for each job, not worker_lost after the grace.
  auto proc = start_pipeline("run", {"--jobs=2", "--stages=3",
                                     "--stage-ms=5000", "--job-prefix=stop"});
  std::vector<std::string> ids{read_job_id(*proc), read_job_id(*proc)};
  auto ws = watch(ids[0], 0);
  await_first_progress(ws, *proc);
  proc->signal(SIGTERM);
  auto xs = events_until(ws, "job_failed", 10s);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_failed",
                        "no job_failed; got " << types_of(xs));
  auto& failed = xs.back();
  BOOST_REQUIRE(failed.contains("error"));
  check_string(failed["error"], "code", "worker_stopped");
  check_string(failed["error"], "stage", "stage_1");
  auto said = failed["error"]["message"].as_string();
  BOOST_TEST(said.find("SIGTERM") != std::string::npos, said);
  auto status = proc->wait(10s);
  BOOST_TEST((status.signal == 0 && status.code == 128 + SIGTERM),
             status.to_string() << "; stderr: " << proc->stderr_text());
  http_client http{port()};
  for (auto& id : ids) {
    BOOST_TEST_CONTEXT(id) {
      auto snap = http.get(job_path(id));
      BOOST_REQUIRE_EQUAL(snap.status, 200);
      check_string(snap.json(), "status", "failed");
      BOOST_TEST(snap.json()["message"].as_string() == said);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_second_signal_ends_a_pipeline_at_once) {
  // The first SIGTERM's job_failed cannot be stored (the server is
  // stopped), so the pipeline keeps trying; a second one ends it.
  restartable_server own{{"--worker-grace=1"}};
  auto server = own.start();
  auto [proc, job_id] = run_one_job(own, {"--stage-ms=5000",
                                          "--job-prefix=twice"});
  ::kill(server->pid(), SIGSTOP);
  proc->signal(SIGTERM);
  std::this_thread::sleep_for(1s);
  BOOST_TEST(proc->running(), "ended on the first signal; stderr: "
                                << proc->stderr_text());
  proc->signal(SIGTERM);
  auto status = proc->wait(5s);
  ::kill(server->pid(), SIGCONT);
  BOOST_TEST((status.signal == 0 && status.code == 128 + SIGTERM),
             status.to_string() << "; stderr: " << proc->stderr_text());
  BOOST_TEST(proc->stderr_text().find("SIGTERM again")
             != std::string::npos, proc->stderr_text());
}

BOOST_AUTO_TEST_CASE(a_signal_before_the_jobs_start_ends_the_run) {
  // Still connecting (nothing listens): nothing to end, so it exits at
  // once rather than after its connection attempts.
  auto proc = std::make_unique<child_process>(
    pipeline_binary(),
    std::vector<std::string>{"run", "--caf-port=" + std::to_string(unused_port()),
                             "--connect-attempts=1000"});
  std::this_thread::sleep_for(500ms);
  proc->signal(SIGINT);
  auto status = proc->wait(5s);
  BOOST_TEST((status.signal == 0 && status.code == 128 + SIGINT),
             status.to_string() << "; stderr: " << proc->stderr_text());
  BOOST_TEST(proc->stderr_text().find("SIGINT") != std::string::npos,
             proc->stderr_text());
}

BOOST_AUTO_TEST_CASE(a_pipeline_that_stops_answering_heartbeats_is_lost) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=3",
                                     "--stage-ms=20000", "--job-prefix=frozen"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  await_first_progress(ws, *proc);
  // Frozen: its TCP connection stays open, but no heartbeat comes.
  auto t0 = clock_type::now();
  proc->signal(SIGSTOP);
  // jobwire's connection timeout (5 s) plus the grace (1 s).
  auto xs = events_until(ws, "job_failed", 20s);
  auto elapsed = ms_since(t0);
  proc->signal(SIGKILL);
  proc->wait(5s);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_failed",
                        "no job_failed within 20 s; got " << types_of(xs));
  check_string(xs.back()["error"], "code", "worker_lost");
  BOOST_TEST(elapsed >= 3000, "worker_lost after only " << elapsed << " ms");
  BOOST_TEST_MESSAGE("a frozen pipeline was failed after " << elapsed
                                                           << " ms");
}

BOOST_AUTO_TEST_CASE(a_cancel_reaches_every_attached_worker) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=3",
                                     "--stage-ms=5000", "--job-prefix=two"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  await_first_progress(ws, *proc);
  local_pipeline here{caf_port()};
  auto second = pl::job_handle::open(here.client(), job_id);
  BOOST_REQUIRE_MESSAGE(second, pl::error_text(second));
  ws.send_text(R"({"type":"cancel_job","job_id":)" + q(job_id)
               + R"(,"reason":"for both"})");
  BOOST_TEST(second->wait_for_cancel(5s));
  BOOST_TEST(second->cancel_reason() == "for both");
  auto xs = events_until(ws, "job_cancelled", 5s);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_cancelled",
                        "got " << types_of(xs));
  check_string(xs.back(), "reason", "for both");
  BOOST_TEST(proc->wait(5s).code == 0);
  // The job has ended cancelled: the second worker's own job_cancelled is
  // acknowledged with the seq of the one stored.
  auto late = second->cancelled();
  BOOST_REQUIRE_MESSAGE(late, pl::error_text(late));
  BOOST_TEST(static_cast<int64_t>(*late) == xs.back()["seq"].as_int());
}

BOOST_AUTO_TEST_CASE(a_worker_that_attaches_within_the_grace_saves_the_job) {
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=3",
                                     "--stage-ms=5000", "--job-prefix=saved"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  await_first_progress(ws, *proc);
  local_pipeline here{caf_port()};
  // The pipeline dies; another worker takes over at once.
  proc->signal(SIGKILL);
  proc->wait(5s);
  auto hdl = pl::job_handle::open(here.client(), job_id);
  BOOST_REQUIRE_MESSAGE(hdl, pl::error_text(hdl));
  BOOST_TEST(jobwire::to_string(hdl->attached_snapshot().status) == "running");
  // Twice the grace passes without job_failed.
  auto xs = events_until(ws, "job_failed", 2500ms);
  BOOST_TEST((xs.empty() || type_of(xs.back()) != "job_failed"),
             "the job failed although a worker attached: " << describe(xs));
  auto seq = hdl->complete(R"({"taken_over":true})");
  BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
  xs = events_until(ws, "job_complete", 5s);
  BOOST_REQUIRE(!xs.empty());
  check_job_complete(xs.back(), job_id, static_cast<int64_t>(*seq),
                     R"({"taken_over":true})");
}

BOOST_AUTO_TEST_CASE(an_idle_pipeline_keeps_its_link_through_heartbeats) {
  // One progress update, then 6 s of silence: longer than the server's
  // connection timeout, so only heartbeats keep the link up.
  auto proc = start_pipeline("run", {"--jobs=1", "--stages=1", "--steps=1",
                                     "--stage-ms=6000", "--job-prefix=idle"});
  auto job_id = read_job_id(*proc);
  auto ws = watch(job_id, 0);
  auto xs = events_until(ws, "job_complete", 15s);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_complete",
                        "got " << types_of(xs) << "; pipeline stderr: "
                               << proc->stderr_text());
  BOOST_TEST(types_of(xs) == "progress_update stage_complete job_complete");
  auto status = proc->wait(5s);
  BOOST_TEST(status.code == 0,
             status.to_string() << "; stderr: " << proc->stderr_text());
  BOOST_TEST(proc->stderr_text().find("lost the connection")
               == std::string::npos,
             "the link dropped while idle: " << proc->stderr_text());
}

BOOST_AUTO_TEST_CASE(a_cancel_outlives_a_crash_of_the_server) {
  // A cancel acknowledged while a worker runs the job still stands after a
  // kill -9 of the server, before the worker published anything more: the
  // status says so, a worker that attaches is told, and a job that then
  // loses its worker ends cancelled, not failed.
  restartable_server own{{"--worker-grace=1"}};
  auto port = own.port;
  auto caf_port = own.caf_port;
  auto server = own.start();
  auto job_id = unique_job_id("cancelcrash");
  auto settings = local_pipeline::settings_for(caf_port);
  settings.request_attempts = 20;
  local_pipeline here{settings};
  {
    auto first = pl::job_handle::open(here.client(), job_id);
    BOOST_REQUIRE_MESSAGE(first, pl::error_text(first));
    auto seq = first->progress("work", 10, "started");
    BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
    http_client http{port};
    auto res = http.post(job_path(job_id) + "/cancel", R"({"reason":"stop"})");
    BOOST_TEST((res.status >= 200 && res.status < 300), res.to_string());
    BOOST_REQUIRE(first->wait_for_cancel(5s));
    // The worker winds down slowly; the server dies meanwhile.
    server->stop(SIGKILL, 10s);
    server = own.start();
    http_client again{port};
    auto snap = again.get(job_path(job_id));
    BOOST_REQUIRE_EQUAL(snap.status, 200);
    check_string(snap.json(), "status", "running");
    check_bool(snap.json(), "cancel_requested", true);
  } // the first worker goes
  {
    auto second = pl::job_handle::open(here.client(), job_id);
    BOOST_REQUIRE_MESSAGE(second, pl::error_text(second));
    BOOST_TEST(second->attached_snapshot().cancel_requested);
    BOOST_TEST(second->wait_for_cancel(5s));
    BOOST_TEST(second->cancel_reason() == "stop");
  } // and so does the second, without ending the job: grace is 1 s
  http_client http{port};
  std::string status;
  BOOST_TEST(eventually(
    [&] {
      auto res = http.get(job_path(job_id));
      if (res.status == 200)
        status = res.json()["status"].as_string();
      return status != "running";
    },
    10s));
  BOOST_TEST(status == "cancelled");
  // The server ended it with the reason it was asked with.
  auto ws = open_ws(port);
  subscribe(ws, job_id, 1);
  auto ended = ws.read_json();
  check_string(ended, "type", "job_cancelled");
  check_string(ended, "reason", "stop");
}

BOOST_AUTO_TEST_CASE(a_worker_gone_with_the_server_is_lost_once_it_is_back) {
  // kill -9 of the server, and of one of two pipelines while it is down.
  // Back on the same data, the server waits the grace for the dead one's
  // worker and fails its job with worker_lost (not a week later as
  // abandoned); the living one reattaches and finishes its job. The
  // directory's ticks are ten minutes apart: the look as it starts finds
  // the job.
  restartable_server own{{"--worker-grace=3", "--job-idle=2400"}};
  auto port = own.port;
  auto caf_port = own.caf_port;
  auto server = own.start();
  auto pipeline = [&](std::string prefix, std::string stage_ms) {
    return std::make_unique<child_process>(
      pipeline_binary(),
      std::vector<std::string>{"run", "--jobs=1", "--stages=2", "--steps=2",
                               "--stage-ms=" + stage_ms,
                               "--job-prefix=" + prefix,
                               "--connect-attempts=30",
                               "--caf-port=" + std::to_string(caf_port)});
  };
  auto doomed = pipeline("doomed", "20000");
  auto living = pipeline("living", "4000");
  auto doomed_job = read_job_id(*doomed);
  auto living_job = read_job_id(*living);
  {
    auto ws = open_ws(port);
    subscribe(ws, doomed_job, 0);
    await_first_progress(ws, *doomed);
  }
  server->stop(SIGKILL, 10s);
  doomed->signal(SIGKILL);
  doomed->wait(5s);
  auto t0 = clock_type::now();
  server = own.start();
  auto ws = open_ws(port);
  subscribe(ws, doomed_job, 1);
  auto xs = events_until(ws, "job_failed", 20s);
  auto elapsed = ms_since(t0);
  BOOST_REQUIRE_MESSAGE(!xs.empty() && type_of(xs.back()) == "job_failed",
                        "no job_failed within 20 s of the restart; got "
                          << types_of(xs));
  check_string(xs.back(), "job_id", doomed_job);
  check_string(xs.back()["error"], "code", "worker_lost");
  BOOST_TEST_MESSAGE("the lost worker's job failed " << elapsed
                                                     << " ms after the restart");
  auto again = open_ws(port);
  subscribe(again, living_job, 0);
  auto ys = events_until(again, "job_complete", 30s);
  BOOST_REQUIRE_MESSAGE(!ys.empty() && type_of(ys.back()) == "job_complete",
                        "the living pipeline's job did not complete; got "
                          << types_of(ys)
                          << "; pipeline stderr: " << living->stderr_text());
  for (auto& y : ys)
    BOOST_TEST(type_of(y) != "job_failed");
  BOOST_TEST(living->wait(10s).code == 0, living->stderr_text());
}

BOOST_AUTO_TEST_CASE(a_cancel_while_the_pipeline_is_away_stops_it_when_back) {
  // A cancel that comes while no worker is attached ends the job at once.
  // The pipeline, back after a server restart, was never told: it worked
  // on until its next publish was refused, and exited 1.
  restartable_server own{{"--worker-grace=30"}};
  auto port = own.port;
  auto server = own.start();
  auto [proc, job_id] = run_one_job(own, {"--stages=2", "--steps=1",
                                           "--stage-ms=60000",
                                           "--job-prefix=away",
                                           "--connect-attempts=30"});
  // Away: stopped while the server restarts, so no worker is attached.
  proc->signal(SIGSTOP);
  server->stop(SIGKILL, 10s);
  server = own.start();
  http_client http{port};
  auto res = http.post(job_path(job_id) + "/cancel",
                       R"({"reason":"while away"})");
  BOOST_TEST((res.status >= 200 && res.status < 300), res.to_string());
  check_string(res.json(), "status", "cancelled");
  proc->signal(SIGCONT);
  // Back, it attaches again, learns of the cancel and stops cleanly long
  // before its 60 s stage would end.
  auto status = proc->wait(30s);
  BOOST_TEST(status.code == 0, status.to_string() << "; stderr: "
                                                  << proc->stderr_text());
  BOOST_TEST(proc->stderr_text().find("job " + job_id + " cancelled")
               != std::string::npos,
             proc->stderr_text());
  // One terminal event, the server's, with the reason asked for.
  auto ws = open_ws(port);
  subscribe(ws, job_id, 1);
  auto ended = ws.read_json();
  check_string(ended, "type", "job_cancelled");
  check_string(ended, "reason", "while away");
  BOOST_TEST(!ws.read_frame(500ms).has_value());
}

BOOST_AUTO_TEST_CASE(a_pipeline_carries_on_after_its_link_timed_out) {
  // The server stalls (SIGSTOP) past the pipeline's connection timeout (5 s)
  // with a publish in flight, and the pipeline drops the link. The server is
  // the same process when it resumes, so the handle of the new link equals
  // the lost one in CAF's eyes: the library took the new link for the dead
  // one, gave up after its attempts and the run exited 1.
  restartable_server own{{"--worker-grace=30"}};
  auto port = own.port;
  auto server = own.start();
  auto [proc, job_id] = run_one_job(own, {"--stages=2", "--steps=10",
                                           "--stage-ms=3000",
                                           "--job-prefix=stalled"});
  ::kill(server->pid(), SIGSTOP);
  std::this_thread::sleep_for(7s);
  ::kill(server->pid(), SIGCONT);
  auto status = proc->wait(40s);
  BOOST_TEST(status.code == 0, status.to_string() << "; stderr: "
                                                  << proc->stderr_text());
  // Every event, once and in order: 10 progress and a stage_complete per
  // stage, then job_complete.
  auto ws = open_ws(port);
  subscribe(ws, job_id, 0);
  auto xs = pipeline_fixture::events_until(ws, "job_complete", 10s);
  BOOST_REQUIRE_MESSAGE(xs.size() == 23u, "got " << describe(xs));
  int64_t seq = 0;
  for (auto& x : xs)
    check_int(x, "seq", ++seq);
}

// A pipeline process stops its worker, then its actor system, at once (as
// jobwire-pipeline does after a cancel). The worker's down message to CAF's
// network layer could still be queued there when that layer stopped; it
// kept the worker alive, and the actor system waited for a detached worker
// for ever. Many rounds, as the timing decides.
BOOST_AUTO_TEST_CASE(a_process_shuts_down_right_after_its_worker_stops) {
  for (int round = 1; round <= 100; ++round) {
    auto job_id = "shutdown_" + std::to_string(round);
    auto ws = watch(job_id, 0);
    watchdog guard{"round " + std::to_string(round)
                     + ": the pipeline's actor system did not shut down",
                   std::chrono::seconds{20}};
    local_pipeline here{caf_port()};
    auto hdl = pl::job_handle::open(here.client(), job_id);
    BOOST_REQUIRE_MESSAGE(hdl, pl::error_text(hdl));
    auto started = hdl->progress("only", 0, "started");
    BOOST_REQUIRE_MESSAGE(started, pl::error_text(started));
    ws.send_text(R"({"type":"cancel_job","job_id":)" + q(job_id) + "}");
    BOOST_REQUIRE(hdl->wait_for_cancel(5s));
    auto seq = hdl->cancelled();
    BOOST_REQUIRE_MESSAGE(seq, pl::error_text(seq));
    // The handle goes, then the client and the actor system, as in a
    // process that ends.
  }
}

BOOST_AUTO_TEST_SUITE_END()
