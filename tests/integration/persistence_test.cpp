#define BOOST_TEST_MODULE persistence
#include <boost/test/unit_test.hpp>

// What survives a restart and a crash: seqs, snapshots, stored events and
// connection records (resume), against the real server on one data dir
// that several server processes use one after the other.

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <lmdb.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

/// A server on a shared data dir; prints its stderr tail when the test has
/// failed by the time it goes.
class server_on {
public:
  server_on(const temp_data_dir& dir, std::vector<std::string> args = {}) {
    args.insert(args.begin(), dir.option());
    proc_ = std::make_unique<server_process>(std::move(args));
  }

  ~server_on() {
    if (proc_ && current_test_failed()) {
      std::cerr << "---- jobwire stderr (last 40 lines), pid " << proc_->pid()
                << " ----\n"
                << proc_->stderr_tail(40) << "---- end of stderr ----\n";
    }
  }

  server_process& operator*() {
    return *proc_;
  }

  server_process* operator->() {
    return proc_.get();
  }

  uint16_t port() const {
    return proc_->port();
  }

  /// SIGTERM, and the exit must be clean.
  void stop_clean() {
    auto st = proc_->stop(SIGTERM, 15s);
    BOOST_TEST((st.exited && st.code == 0 && !st.timed_out),
               "jobwire on SIGTERM: " << st.to_string() << "; stderr tail:\n"
                                      << proc_->stderr_tail(20));
  }

  void kill9() {
    proc_->stop(SIGKILL, 10s);
  }

private:
  std::unique_ptr<server_process> proc_;
};

std::string subscribe_cmd(std::string_view job,
                          std::optional<int64_t> since = std::nullopt) {
  std::string cmd = R"({"type":"subscribe","job_id":)" + q(job);
  if (since)
    cmd += R"(,"since_seq":)" + std::to_string(*since);
  return cmd + "}";
}

std::string resume_cmd(std::string_view id) {
  return R"({"type":"resume","connection_id":)" + q(id) + "}";
}

/// Reads `count` event frames of `job` (other frames are errors), then a
/// ping barrier; whatever comes before the pong is appended too, so the
/// caller sees extras.
std::vector<json_value> read_events(ws_client& ws, std::string_view job,
                                    size_t count,
                                    std::chrono::milliseconds timeout = 10s) {
  std::vector<json_value> out;
  auto deadline = clock_type::now() + timeout;
  while (out.size() < count) {
    auto left
      = std::chrono::duration_cast<std::chrono::milliseconds>(deadline
                                                             - clock_type::now());
    if (left.count() <= 0)
      break;
    auto frame = ws.read_frame(left);
    if (!frame)
      break;
    auto x = json_value::parse(frame->payload);
    if (!event_stream::is_event_type(type_of(x))) {
      BOOST_ERROR("expected an event of " << job << ", got " << x);
      continue;
    }
    out.push_back(std::move(x));
  }
  BOOST_TEST(out.size() == count, "got " << out.size() << " of " << count
                                         << " events of " << job << " in time");
  if (ws.is_open()) {
    auto extra = ping_barrier(ws);
    for (auto& x : extra)
      out.push_back(std::move(x));
  }
  return out;
}

/// The seqs of `frames`.
std::vector<int64_t> seqs_of(const std::vector<json_value>& frames) {
  std::vector<int64_t> out;
  for (auto& x : frames) {
    auto s = x.find("seq");
    out.push_back(s != nullptr && s->is_integer() ? s->as_int() : -1);
  }
  return out;
}

std::vector<int64_t> range(int64_t first, int64_t last) {
  std::vector<int64_t> out;
  for (auto i = first; i <= last; ++i)
    out.push_back(i);
  return out;
}

/// GET /v1/jobs/{id}; requires 200.
json_value get_snapshot(uint16_t port, std::string_view job) {
  http_client http{port};
  auto res = http.get(job_path(job));
  BOOST_REQUIRE_MESSAGE(res.status == 200,
                        "GET " << job_path(job) << ": " << res.to_string());
  return res.json();
}


/// Expects `resumed` for `earlier` following exactly `jobs`.
void expect_resumed(ws_client& ws, std::string_view earlier,
                    std::vector<std::string> jobs) {
  auto reply = ws.read_json();
  BOOST_REQUIRE_MESSAGE(type_of(reply) == "resumed",
                        "expected resumed, got " << reply);
  check_string(reply, "connection_id", earlier);
  std::vector<std::string> listed;
  if (auto ids = reply.find("job_ids"); ids != nullptr && ids->is_array())
    for (auto& x : ids->as_array())
      listed.push_back(x.is_string() ? x.as_string() : x.dump());
  std::sort(listed.begin(), listed.end());
  std::sort(jobs.begin(), jobs.end());
  BOOST_TEST(listed == jobs, "resumed job_ids of " << reply);
}

/// Sends `resume` of `earlier` and requires the `connection_not_found` error.
void expect_resume_refused(uint16_t port, std::string_view earlier) {
  auto ws = open_ws(port);
  ws.send_text(resume_cmd(earlier));
  auto reply = ws.read_json();
  check_error(reply, "connection_not_found");
  // Nothing else comes: no job was taken over.
  auto extra = ping_barrier(ws);
  BOOST_TEST(extra.empty(), "after the refused resume: " << describe(extra));
}

/// The tag an event frame carries, or "" when it has none.
std::string tag_of(const json_value& x) {
  if (type_of(x) == "stage_complete") {
    auto r = x.find("results");
    if (r != nullptr && r->contains("tag") && (*r)["tag"].is_string())
      return (*r)["tag"].as_string();
    return {};
  }
  auto m = x.find("message");
  return m != nullptr && m->is_string() ? m->as_string() : std::string{};
}

/// Publishes progress events `first`..`last` of `job` (message "m<seq>"),
/// each acknowledged with its seq.
void publish_range(http_client& http, std::string_view job, int first,
                   int last) {
  for (int i = first; i <= last; ++i)
    BOOST_TEST(publish(http, job, progress_event("s", i, "m" + std::to_string(i)))
               == i);
}

/// Opens `client` and subscribes it to `job` (no since_seq); returns the
/// `subscribed` reply.
json_value open_subscribed(raw_ws& client, uint16_t port, std::string_view job) {
  client.open(port);
  client.send_text(subscribe_cmd(job));
  auto sub = client.read_json(5s);
  BOOST_REQUIRE_MESSAGE((sub && type_of(*sub) == "subscribed"),
                        "no subscribed");
  return *sub;
}

/// Resumes `earlier` (which followed `job` alone) on a new connection and
/// expects exactly the events `first`..`last` of the job; returns the
/// connection for what comes next.
/// Opens a connection that resumes `earlier`, following `job` alone, up to
/// its `subscribed`.
ws_client resumed_on(uint16_t port, std::string_view earlier,
                     std::string_view job) {
  auto ws = open_ws(port);
  ws.send_text(resume_cmd(earlier));
  expect_resumed(ws, earlier, {std::string{job}});
  auto sub = ws.read_json();
  BOOST_TEST(type_of(sub) == "subscribed", "expected subscribed, got " << sub);
  check_string(sub, "job_id", job);
  return ws;
}

ws_client resume_expecting(uint16_t port, std::string_view earlier,
                           std::string_view job, int first, int last) {
  auto ws = resumed_on(port, earlier, job);
  auto missed = read_events(ws, job, static_cast<size_t>(last - first + 1));
  BOOST_TEST(seqs_of(missed) == range(first, last),
             "after resume: " << describe(missed));
  for (auto& ev : missed)
    BOOST_TEST(tag_of(ev) == "m" + std::to_string(ev["seq"].as_int()));
  return ws;
}

} // namespace

BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);

BOOST_AUTO_TEST_SUITE(persistence)

// -- restart ----------------------------------------------------------------------

/// Starts a server on `dir` that must refuse to; returns why (its stderr,
/// in the exception server_process throws), or "" when it started.
std::string refusal_on(const temp_data_dir& dir) {
  try {
    server_on srv{dir};
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

BOOST_AUTO_TEST_CASE(a_second_server_on_the_same_data_refuses_to_start) {
  // LMDB lets two processes in; each then refused or overwrote what the
  // other stored (MDB_KEYEXIST on publish, stale snapshots).
  temp_data_dir dir;
  auto job = unique_job_id("locked");
  {
    server_on first{dir};
    http_client http{first.port()};
    BOOST_TEST(publish(http, job, progress_event("s", 1, "one")) == 1);
    auto why = refusal_on(dir);
    BOOST_TEST(why.find("another jobwire server (pid "
                        + std::to_string(first->pid()) + ")")
                 != std::string::npos,
               "second server: " << (why.empty() ? "started" : why));
    // The first goes on undisturbed.
    BOOST_TEST(publish(http, job, progress_event("s", 2, "two")) == 2);
    first.stop_clean();
  }
  // Its lock went with it.
  server_on again{dir};
  BOOST_TEST(get_snapshot(again.port(), job)["last_seq"].as_int() == 2);
  again.stop_clean();
}

BOOST_AUTO_TEST_CASE(of_two_servers_started_at_once_the_refused_one_names_the_other) {
  // The loser once read the lock file before the winner had written its
  // pid, and named nobody (2 of 8 tries). Both start from this thread, at
  // once: server_process waits for each to listen.
  auto binary = jobwire_binary();
  for (int attempt = 0; attempt < 30; ++attempt) {
    temp_data_dir dir;
    pid_t pids[2];
    std::string errs[2];
    for (int i = 0; i < 2; ++i) {
      errs[i] = dir.path() + "/stderr" + std::to_string(i);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_addopen(&fa, 2, errs[i].c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0600);
      std::vector<std::string> args{binary, dir.option(), "--port=0",
                                    "--caf-port=0", "--bind=127.0.0.1"};
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      BOOST_REQUIRE(posix_spawn(&pids[i], binary.c_str(), &fa, nullptr,
                                argv.data(), environ)
                    == 0);
      posix_spawn_file_actions_destroy(&fa);
    }
    // The loser exits; the winner runs until told to stop.
    int loser = -1;
    int status = 0;
    for (auto deadline = std::chrono::steady_clock::now() + 10s;
         loser < 0 && std::chrono::steady_clock::now() < deadline;) {
      for (int i = 0; i < 2 && loser < 0; ++i)
        if (::waitpid(pids[i], &status, WNOHANG) == pids[i])
          loser = i;
      std::this_thread::sleep_for(5ms);
    }
    auto winner = loser == 0 ? 1 : 0;
    auto text_of = [](const std::string& path) {
      std::ifstream in{path};
      return std::string{std::istreambuf_iterator<char>{in}, {}};
    };
    // Stopped before it handles signals, it would die of the SIGTERM.
    BOOST_TEST(eventually(
      [&] {
        return text_of(errs[winner]).find(R"("msg":"listening")")
               != std::string::npos;
      },
      10s));
    ::kill(pids[winner], SIGTERM);
    int winner_status = 0;
    ::waitpid(pids[winner], &winner_status, 0);
    if (loser < 0) {
      ::kill(pids[0], SIGKILL);
      ::waitpid(pids[0], nullptr, 0);
      BOOST_FAIL("both servers ran on one data directory");
    }
    auto why = text_of(errs[loser]);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 1), why);
    BOOST_TEST(why.find("another jobwire server (pid "
                        + std::to_string(pids[winner]) + ")")
                 != std::string::npos,
               "attempt " << attempt << ": " << why);
    BOOST_TEST((WIFEXITED(winner_status) && WEXITSTATUS(winner_status) == 0));
  }
}

/// Stores 200 progress events of 1 KB for `job` in `dir`, then stops.
void store_200_events(const temp_data_dir& dir, const std::string& job) {
  server_on srv{dir};
  http_client http{srv.port()};
  for (int i = 1; i <= 200; ++i)
    BOOST_TEST_REQUIRE(
      publish(http, job, progress_event("s", i % 100, std::string(1000, 'x')))
      == i);
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_data_file_cut_short_is_refused_with_a_reason) {
  // Cut short, data.mdb made LMDB fault (SIGBUS) at start; empty, LMDB
  // started an empty store over it and reused seqs.
  temp_data_dir dir;
  store_200_events(dir, unique_job_id("cut"));
  auto file = std::filesystem::path{dir.data()} / "data.mdb";
  BOOST_REQUIRE(std::filesystem::file_size(file) > 200000u);
  std::filesystem::resize_file(file, 16384);
  auto why = refusal_on(dir);
  BOOST_TEST(why.find("was cut short; restore it from a backup")
               != std::string::npos,
             "cut to 16 KiB: " << (why.empty() ? "started" : why));
  // Shorter than LMDB's two meta pages: LMDB's own "not an LMDB file"
  // said nothing of what happened to it.
  std::filesystem::resize_file(file, 5000);
  why = refusal_on(dir);
  BOOST_TEST(why.find("holds 5000 bytes, less than LMDB's two meta pages")
               != std::string::npos,
             "cut to 5000 bytes: " << (why.empty() ? "started" : why));
  std::filesystem::resize_file(file, 0);
  why = refusal_on(dir);
  BOOST_TEST(why.find("is empty: the file was cut short") != std::string::npos,
             "emptied: " << (why.empty() ? "started" : why));
}

/// Overwrites the root page of the events' B-tree, as a bad disk would;
/// LMDB keeps no checksum to notice. The page number is in the database's
/// record in LMDB's main database (`md_root`, after 40 bytes of counts).
void damage_the_events_root(const std::string& data_dir) {
  MDB_env* env = nullptr;
  BOOST_REQUIRE(mdb_env_create(&env) == 0);
  BOOST_REQUIRE(mdb_env_open(env, data_dir.c_str(), MDB_RDONLY, 0640) == 0);
  MDB_stat env_stat;
  mdb_env_stat(env, &env_stat);
  MDB_txn* txn = nullptr;
  BOOST_REQUIRE(mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn) == 0);
  MDB_dbi main_db;
  BOOST_REQUIRE(mdb_dbi_open(txn, nullptr, 0, &main_db) == 0);
  std::string name = "events";
  MDB_val key{name.size(), name.data()};
  MDB_val record{};
  BOOST_REQUIRE(mdb_get(txn, main_db, &key, &record) == 0);
  BOOST_REQUIRE(record.mv_size >= 48u);
  uint64_t root = 0;
  std::memcpy(&root, static_cast<const char*>(record.mv_data) + 40,
              sizeof(root));
  mdb_txn_abort(txn);
  mdb_env_close(env);
  auto path = data_dir + "/data.mdb";
  BOOST_REQUIRE(root >= 2); // never a meta page
  BOOST_REQUIRE((root + 1) * env_stat.ms_psize
                <= std::filesystem::file_size(path));
  std::fstream file{path, std::ios::in | std::ios::out | std::ios::binary};
  file.seekp(static_cast<std::streamoff>(root * env_stat.ms_psize));
  std::string garbage(env_stat.ms_psize, '\xab');
  file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  file.flush();
  BOOST_REQUIRE(file.good());
}

BOOST_AUTO_TEST_CASE(a_damaged_data_file_is_refused_at_start) {
  // Damage inside data.mdb let the server start, and crashed it (SIGSEGV,
  // SIGBUS) at the first read of the damaged page, mid-service.
  temp_data_dir dir;
  auto job = unique_job_id("damaged");
  store_200_events(dir, job);
  damage_the_events_root(dir.data());
  auto why = refusal_on(dir);
  BOOST_TEST(why.find("data.mdb is damaged") != std::string::npos,
             (why.empty() ? "started" : why));
  BOOST_TEST(why.find("restore it from a backup") != std::string::npos, why);
  // Asked to, it serves what can be read: the job, not its events.
  server_on unchecked{dir, {"--store-check-seconds=0"}};
  BOOST_TEST(get_snapshot(unchecked.port(), job)["last_seq"].as_int() == 200);
  unchecked.stop_clean();
}

/// Publishes 1 KB progress events to `job` until one is refused (at most
/// `most`); `last` is the last answer. Returns how many were stored.
int64_t publish_until_refused(http_client& http, const std::string& job,
                              int most, http_response& last) {
  int64_t stored = 0;
  for (int i = 1; i <= most; ++i) {
    last = http.post(events_path(job),
                     progress_event("s", i % 100, std::string(1000, 'x')));
    if (last.status != 202)
      break;
    stored = i;
  }
  return stored;
}

/// `/healthz` still answers 200 and, with `jobwire_store_writable`, says
/// whether the store takes writes; while it does not, the body has the
/// publishers' code and, in its message, `why`.
void check_store_health(uint16_t port, bool writable,
                        const std::string& why = "") {
  http_client http{port};
  auto res = http.get("/healthz");
  BOOST_TEST_REQUIRE(res.status == 200, res.to_string());
  auto body = res.json();
  if (writable) {
    BOOST_TEST(body["status"].as_string() == "ok", res.body);
  } else {
    BOOST_TEST(body["status"].as_string() == "degraded", res.body);
    BOOST_TEST(body["code"].as_string() == "storage_full", res.body);
    BOOST_TEST(body["message"].as_string().find(why) != std::string::npos,
               res.body);
  }
  BOOST_TEST(read_metric(port, "jobwire_store_writable").value_or(-1)
             == (writable ? 1.0 : 0.0));
}

BOOST_AUTO_TEST_CASE(a_full_store_refuses_publishes_and_a_larger_one_recovers) {
  // Publishes past --max-map-size get 507 storage_full and the server stays
  // up with everything stored still readable. After a kill -9 and a restart
  // with room, the connection left open is closed and publishes go on.
  temp_data_dir dir;
  auto job = unique_job_id("full");
  std::string old_id;
  int64_t stored = 0;
  {
    server_on srv{dir, {"--map-size=1048576", "--max-map-size=2097152"}};
    raw_ws client;
    client.answer_pings = true;
    open_subscribed(client, srv.port(), job);
    old_id = client.connection_id();
    BOOST_REQUIRE(wait_listed(srv.port(), job, old_id));
    http_client http{srv.port()};
    http_response res;
    stored = publish_until_refused(http, job, 5000, res);
    check_http_error(res, 507, "storage_full");
    BOOST_TEST(stored > 100);
    check_store_health(srv.port(), false, "the store is full");
    BOOST_TEST(get_snapshot(srv.port(), job)["last_seq"].as_int() == stored);
    // The log counts the refused publish (it said 0).
    auto log = srv->stderr_text();
    auto at = log.rfind("events not stored");
    BOOST_TEST_REQUIRE(at != std::string::npos, srv->stderr_tail(5));
    auto line = log.substr(at);
    BOOST_TEST(line.substr(0, line.find('\n')).find(R"("count":"1")")
                 != std::string::npos,
               line.substr(0, line.find('\n')));
    // Each later publish is refused as clearly, but the log does not take a
    // line (two, with the registry's) for each: one per ten seconds.
    auto began = std::chrono::steady_clock::now();
    constexpr int more = 30;
    for (int i = 0; i < more; ++i)
      check_http_error(http.post(events_path(job),
                                 progress_event("s", 1, std::string(1000, 'x'))),
                       507, "storage_full");
    auto periods = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::steady_clock::now() - began)
                     .count()
                   / 10;
    log = srv->stderr_text();
    for (auto what : {"events not stored", "commit failed"}) {
      auto lines = occurrences(log, what);
      BOOST_TEST(lines <= 2 + periods, what << ": " << lines << " lines for "
                                             << more + 1 << " refusals");
    }
    srv.kill9();
  }
  server_on srv{dir, {"--map-size=1048576", "--max-map-size=8388608"}};
  BOOST_TEST(wait_unlisted(srv.port(), job, old_id, 5s),
             "the connection left open by the crash is still listed");
  BOOST_TEST(srv->stderr_text().find("cannot close stale connection records")
               == std::string::npos,
             srv->stderr_tail(10));
  http_client http{srv.port()};
  BOOST_TEST(publish(http, job, progress_event("s", 1, "after")) == stored + 1);
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_full_store_forgets_expired_jobs_and_takes_publishes_again) {
  // At --max-map-size, even the sweep's deletes failed (LMDB writes a
  // delete to new pages first): expired jobs were never forgotten, and the
  // store stayed full until a restart with a larger maximum. The jobs must
  // not expire before the store is full: the filler would take their room
  // (as it should) and leave none to show.
  auto retention = std::chrono::seconds(4 * time_scale());
  temp_data_dir dir;
  server_on srv{dir, {"--map-size=1048576", "--max-map-size=2097152",
                      "--job-retention=" + std::to_string(retention.count())}};
  http_client http{srv.port()};
  std::vector<std::string> finished;
  for (int k = 0; k < 4; ++k) {
    auto job = unique_job_id("expiring");
    for (int i = 1; i <= 150; ++i)
      publish(http, job, progress_event("s", i % 100, std::string(1000, 'x')));
    publish(http, job, job_complete_event("{}"));
    finished.push_back(job);
  }
  auto finished_at = clock_type::now();
  auto filler = unique_job_id("filler");
  http_response res;
  publish_until_refused(http, filler, 5000, res);
  check_http_error(res, 507, "storage_full");
  BOOST_REQUIRE_MESSAGE(clock_type::now() - finished_at < retention,
                        "filling took longer than the retention: the test "
                        "cannot tell; raise JOBWIRE_TIME_SCALE");
  // The retention and the sweep (each second), with slack.
  check_store_health(srv.port(), false, "the store is full");
  BOOST_TEST(eventually([&] {
    return http.get("/v1/jobs/" + finished.front()).status == 404;
  }, 30s), "an expired job is still there; stderr:\n" << srv->stderr_tail(5));
  // Its ~150 KB of events went back to LMDB's free list.
  BOOST_TEST(read_metric(srv.port(), "jobwire_lmdb_free_bytes").value_or(0)
             >= 64 * 1024);
  // The sweep goes on a batch a second; the room comes as it frees pages.
  BOOST_TEST(eventually([&] {
    return http.post(events_path(filler),
                     progress_event("s", 1, std::string(1000, 'y')))
             .status
           == 202;
  }, 30s), "publishes stay refused; stderr:\n" << srv->stderr_tail(5));
  check_store_health(srv.port(), true);
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(many_small_expired_jobs_leave_a_full_store_a_few_at_a_time) {
  // A sweep removes 1,000 jobs in one commit. With thousands of small jobs
  // in a full store, that commit did not fit even in the reserve: it was
  // refused every second for good, the jobs never expired, and each refusal
  // counted as a refused write and kept /healthz degraded.
  // Long enough that no job expires (and frees room) while the store
  // fills: a sanitizer build fills it slowly.
  auto retention = std::chrono::seconds(10 * time_scale());
  std::vector<std::string> args{"--map-size=1048576", "--max-map-size=2097152",
                                "--durability=nosync",
                                "--job-retention="
                                  + std::to_string(retention.count())};
  temp_data_dir dir;
  auto prefix = unique_job_id("small");
  int jobs = 0;
  {
    server_on srv{dir, args};
    http_client http{srv.port()};
    auto started = clock_type::now();
    http_response res;
    for (; jobs < 20000; ++jobs) {
      res = http.post(events_path(prefix + "_" + std::to_string(jobs)),
                      job_complete_event(R"({"n":1})"));
      if (res.status != 202)
        break;
    }
    check_http_error(res, 507, "storage_full");
    BOOST_TEST_REQUIRE(jobs > 2000, "only " << jobs << " jobs fit");
    BOOST_REQUIRE_MESSAGE(clock_type::now() - started < retention,
                          "filling took longer than the retention: the test "
                          "cannot tell; raise JOBWIRE_TIME_SCALE");
    srv.stop_clean();
  }
  // Stopped while they fall due, so that the restart's first sweep finds
  // all of them: running, a slow build saw them fall due a few hundred a
  // second, and each sweep fit.
  std::this_thread::sleep_for(retention);
  server_on srv{dir, args};
  http_client http{srv.port()};
  for (auto n : {0, jobs / 2, jobs - 1}) {
    auto job = prefix + "_" + std::to_string(n);
    BOOST_TEST(eventually([&] {
      return http.get("/v1/jobs/" + job).status == 404;
    }, 60s), job << " never expired; stderr:\n" << srv->stderr_tail(5));
  }
  // The refusals were the sweep's own, split until it fit; no client was
  // refused.
  BOOST_TEST(read_metric(srv.port(), "jobwire_expiry_refused_total")
               .value_or(0)
             >= 1);
  BOOST_TEST(read_metric(srv.port(), "jobwire_expired_records_total")
               .value_or(0)
             >= jobs);
  BOOST_TEST(read_metric(srv.port(), "jobwire_store_refused_writes_total")
               .value_or(-1)
             == 0);
  auto again = http.post(events_path(prefix + "_after"),
                         job_complete_event(R"({"n":1})"));
  BOOST_TEST(again.status == 202, again.to_string());
  check_store_health(srv.port(), true);
  srv.stop_clean();
}

#if defined(__SANITIZE_ADDRESS__)
// There AddressSanitizer's allocator, not glibc's, holds freed memory.
constexpr bool glibc_malloc = false;
#else
constexpr bool glibc_malloc = true;
#endif

BOOST_AUTO_TEST_CASE(memory_of_jobs_that_left_goes_back_to_the_system,
                     *boost::unit_test::enable_if<glibc_malloc>()) {
  // Their state is on disk; glibc kept their memory in the process for the
  // next burst: an audit saw 467 MB resident with one job left of 150,000.
  auto idle = std::chrono::seconds(20 * time_scale());
  temp_data_dir dir;
  server_on srv{dir, {"--job-idle=" + std::to_string(idle.count()),
                      "--durability=nosync"}};
  auto prefix = unique_job_id("burst");
  constexpr int jobs = 16'000;
  constexpr int publishers = 4;
  auto started = clock_type::now();
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p)
    threads.emplace_back([&, p] {
      http_client http{srv.port()};
      for (int i = p; i < jobs; i += publishers)
        if (http.post(events_path(prefix + "_" + std::to_string(i)),
                      progress_event("s", 1, "m"))
              .status
            != 202)
          ++refused;
    });
  for (auto& t : threads)
    t.join();
  BOOST_REQUIRE(refused.load() == 0);
  BOOST_REQUIRE_MESSAGE(clock_type::now() - started < idle,
                        "publishing took longer than --job-idle: the test "
                        "cannot tell; raise JOBWIRE_TIME_SCALE");
  auto pid = srv->pid();
  auto peak = proc_status_kb(pid, "RssAnon");
  BOOST_TEST(eventually([&] {
    return read_metric(srv.port(), "jobwire_live_jobs").value_or(-1) == 0;
  }, idle * 3));
  // The jobs are gone within a tick; their memory within the next ones.
  long now = peak;
  BOOST_TEST(eventually([&] {
    now = proc_status_kb(pid, "RssAnon");
    return now < peak / 3;
  }, 30s), "RssAnon " << now << " kB of a peak of " << peak << " kB");
  BOOST_TEST(peak > 25'000, "the jobs took only " << peak << " kB");
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_full_disk_is_storage_full_and_keeps_what_was_stored) {
  // A file size limit (the child inherits it) stands in for a full disk:
  // the store's writes fail as on one. They were answered 500 `internal`
  // (LMDB reports a short write as EIO), and the limit's SIGXFSZ killed
  // the server.
  rlimit old{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
  rlimit small{rlim_t{3} << 20, old.rlim_max};
  BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::unique_ptr<server_process> srv;
  try {
    srv = std::make_unique<server_process>();
  } catch (...) {
    ::setrlimit(RLIMIT_FSIZE, &old);
    throw;
  }
  BOOST_REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
  auto job = unique_job_id("diskfull");
  http_client http{srv->port()};
  http_response res;
  auto stored = publish_until_refused(http, job, 10000, res);
  check_http_error(res, 507, "storage_full");
  BOOST_TEST(res.json()["message"].as_string().find("disk")
               != std::string::npos,
             res.body);
  BOOST_TEST(stored > 100);
  check_store_health(srv->port(), false, "the disk refused the write");
  BOOST_TEST(read_metric(srv->port(), "jobwire_store_refused_writes_total")
               .value_or(0)
             >= 1);
  BOOST_TEST(get_snapshot(srv->port(), job)["last_seq"].as_int() == stored);
  auto status = srv->stop(SIGTERM, 15s);
  BOOST_TEST((status.exited && status.code == 0 && !status.timed_out),
             status.to_string() << "; stderr:\n" << srv->stderr_tail(10));
}

BOOST_AUTO_TEST_CASE(restart_keeps_seqs_snapshots_and_events) {
  temp_data_dir dir;
  auto job = unique_job_id("restart");
  auto other = unique_job_id("restart_other");
  std::vector<json_value> live;
  json_value before_http;
  json_value before_ws;
  {
    server_on a{dir};
    auto ws = open_ws(a.port());
    subscribe(ws, job);
    http_client http{a.port()};
    BOOST_TEST(publish(http, job, progress_event("stage_1", 10, "m1", 30.0))
               == 1);
    BOOST_TEST(publish(http, other, progress_event("s", 1, "o1")) == 1);
    BOOST_TEST(publish(http, job, progress_event("stage_1", 50, "m2")) == 2);
    BOOST_TEST(publish(http, job,
                       stage_complete_event("stage_1", R"({"rooms":[1,2]})"))
               == 3);
    BOOST_TEST(publish(http, other, progress_event("s", 2, "o2")) == 2);
    BOOST_TEST(publish(http, job, progress_event("stage_2", 20, "m3", 12.5))
               == 4);
    live = read_events(ws, job, 4);
    BOOST_TEST(seqs_of(live) == range(1, 4));
    before_http = get_snapshot(a.port(), job);
    ws.send_text(R"({"type":"request_status","job_id":)" + q(job) + "}");
    before_ws = ws.read_type("job_status");
    ws.close();
    a.stop_clean();
  }
  server_on b{dir};
  // The snapshot, over HTTP and WebSocket, is the one before the restart.
  auto after_http = get_snapshot(b.port(), job);
  BOOST_TEST((after_http == before_http),
             "snapshot before " << before_http << ", after " << after_http);
  check_snapshot(after_http, {job, "running", "stage_2", 20, "m3", 12.5, false,
                              4});
  auto ws = open_ws(b.port());
  ws.send_text(R"({"type":"request_status","job_id":)" + q(job) + "}");
  auto after_ws = ws.read_type("job_status");
  for (auto key : {"job_id", "status", "stage", "progress", "message",
                   "estimated_seconds_remaining", "cancel_requested",
                   "last_seq", "updated_at"}) {
    auto x = before_ws.find(key);
    auto y = after_ws.find(key);
    BOOST_TEST((x != nullptr && y != nullptr && *x == *y),
               "job_status field " << key << ": before " << before_ws
                                   << ", after " << after_ws);
  }
  // since_seq replays the stored events exactly as they went out live.
  auto replayed = subscribe(ws, job, 0);
  check_snapshot(replayed["status"],
                 {job, "running", "stage_2", 20, "m3", 12.5, false, 4});
  auto events = read_events(ws, job, 4);
  BOOST_REQUIRE(events.size() == live.size());
  for (size_t i = 0; i < live.size(); ++i)
    BOOST_TEST((events[i] == live[i]),
               "replayed " << events[i] << ", live it was " << live[i]);
  // A later since_seq replays only the rest; one past the end nothing.
  auto ws2 = open_ws(b.port());
  subscribe(ws2, job, 2);
  auto tail = read_events(ws2, job, 2);
  BOOST_TEST(seqs_of(tail) == range(3, 4));
  auto ws3 = open_ws(b.port());
  subscribe(ws3, job, 4);
  BOOST_TEST(ping_barrier(ws3).empty());
  // Seqs go on: no reuse after the restart.
  http_client http{b.port()};
  BOOST_TEST(publish(http, job, progress_event("stage_2", 60, "m4")) == 5);
  BOOST_TEST(publish(http, other, progress_event("s", 3, "o3")) == 3);
  for (auto* c : {&ws, &ws2, &ws3}) {
    auto next = read_events(*c, job, 1);
    BOOST_TEST(seqs_of(next) == std::vector<int64_t>{5});
    if (!next.empty()) {
      check_string(next[0], "type", "progress_update");
      check_string(next[0], "message", "m4");
      check_string(next[0], "stage", "stage_2");
    }
  }
  auto other_snap = get_snapshot(b.port(), other);
  check_snapshot_fields(other_snap,
                        {other, "running", "s", 3, "o3", std::nullopt, false,
                         3});
  for (auto* c : {&ws, &ws2, &ws3})
    c->close();
  b.stop_clean();
}

// -- crash ------------------------------------------------------------------------

namespace {

/// What the publisher of one job has had acknowledged, over all cycles.
struct crash_job {
  std::string job_id;
  /// seq -> the tag of the event acknowledged with it.
  std::map<int64_t, std::string> acked;
  /// The event whose publish got no answer (it may or may not be stored).
  std::optional<std::string> in_flight;
  int64_t last = 0;
  int next_n = 0;
  /// Unanswered publishes found stored / not stored after a kill.
  int in_flight_stored = 0;
  int in_flight_lost = 0;
  std::vector<std::string> errors;
};

/// The event body for tag `tag`: every 7th a stage_complete carrying the
/// tag in its results, the others progress updates carrying it as message.
std::string crash_event(int n, const std::string& tag) {
  if (n % 7 == 6)
    return stage_complete_event("stage_" + std::to_string(n),
                                R"({"tag":)" + q(tag) + "}");
  return progress_event("stage_x", n % 100, tag);
}

/// Publishes events of `j` until an error or `stop`; records every
/// acknowledged seq. A publish that fails leaves `in_flight` set.
void crash_publisher(uint16_t port, int cycle, crash_job& j,
                     std::atomic<int>& acks, std::atomic<bool>& stop) {
  http_client http{port};
  while (!stop) {
    auto n = j.next_n;
    auto tag = "c" + std::to_string(cycle) + "-" + j.job_id + "-"
               + std::to_string(n);
    j.in_flight = tag;
    http_response res;
    try {
      res = http.post(events_path(j.job_id), crash_event(n, tag));
    } catch (const std::exception&) {
      return; // the server went away
    }
    if (res.status != 202) {
      j.errors.push_back("publish " + tag + ": " + res.to_string());
      return;
    }
    int64_t seq = -1;
    try {
      seq = res.json()["seq"].as_int();
    } catch (const std::exception& e) {
      j.errors.push_back("publish " + tag + ": bad body " + res.body);
      return;
    }
    if (seq != j.last + 1)
      j.errors.push_back("publish " + tag + " got seq " + std::to_string(seq)
                         + ", expected " + std::to_string(j.last + 1)
                         + " (reuse or gap)");
    if (j.acked.contains(seq))
      j.errors.push_back("seq " + std::to_string(seq) + " acknowledged twice");
    j.acked[seq] = tag;
    j.last = std::max(j.last, seq);
    j.in_flight.reset();
    ++j.next_n;
    ++acks;
  }
}

/// Publishes to each of `jobs` from a thread of its own until `min_acks`
/// were acknowledged in all, then runs `stop_server` and reports the
/// publishers' errors; returns the acknowledgements.
template <class StopServer>
int publish_until(uint16_t port, int cycle, std::vector<crash_job>& jobs,
                  int min_acks, StopServer stop_server) {
  std::atomic<int> acks{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (auto& j : jobs)
    threads.emplace_back(
      [&, jp = &j] { crash_publisher(port, cycle, *jp, acks, stop); });
  bool reached = eventually([&] { return acks >= min_acks; }, 20s);
  stop_server();
  stop = true;
  for (auto& t : threads)
    t.join();
  BOOST_TEST(reached, "cycle " << cycle << ": only " << acks
                               << " acknowledgements in 20 s");
  for (auto& j : jobs)
    for (auto& e : j.errors)
      BOOST_ERROR("cycle " << cycle << ": " << e);
  for (auto& j : jobs)
    j.errors.clear();
  return acks;
}

/// After a restart: everything acknowledged is stored, seqs are 1..last
/// without gaps, the snapshot agrees; adopts a stored in-flight event.
void verify_after_crash(uint16_t port, crash_job& j, int cycle) {
  BOOST_TEST_CONTEXT("cycle " << cycle << ", job " << j.job_id) {
    if (j.last == 0 && !j.in_flight) {
      return;
    }
    http_client http{port};
    auto res = http.get(job_path(j.job_id));
    if (j.last == 0 && res.status == 404)
      return; // only an unacknowledged event, and it was not stored
    BOOST_REQUIRE_MESSAGE(res.status == 200, "GET snapshot: "
                                               << res.to_string());
    auto snap = res.json();
    auto stored_last = snap["last_seq"].as_int();
    // Everything acknowledged is there; at most the one unanswered publish
    // may have been stored on top.
    BOOST_TEST(stored_last >= j.last,
               "acknowledged up to seq " << j.last << ", stored last_seq "
                                         << stored_last << ": " << snap);
    BOOST_TEST(stored_last <= j.last + (j.in_flight ? 1 : 0),
               "stored last_seq " << stored_last << " past the acknowledged "
                                  << j.last << " and the one in flight");
    auto ws = open_ws(port);
    subscribe(ws, j.job_id, 0);
    auto events = read_events(ws, j.job_id, static_cast<size_t>(stored_last),
                              20s);
    auto seqs = seqs_of(events);
    BOOST_TEST(seqs == range(1, stored_last),
               "replayed seqs are not exactly 1.." << stored_last << " ("
                                                   << seqs.size()
                                                   << " frames)");
    size_t mismatches = 0;
    for (auto& ev : events) {
      auto s = ev.find("seq");
      if (s == nullptr || !s->is_integer())
        continue;
      auto seq = s->as_int();
      auto tag = tag_of(ev);
      auto it = j.acked.find(seq);
      std::string expected;
      if (it != j.acked.end())
        expected = it->second;
      else if (seq == j.last + 1 && j.in_flight)
        expected = *j.in_flight;
      if (tag != expected && ++mismatches <= 5)
        BOOST_ERROR("seq " << seq << " carries \"" << tag << "\", expected \""
                           << expected << "\": " << ev);
    }
    BOOST_TEST(mismatches == 0u);
    if (j.in_flight)
      ++(stored_last == j.last + 1 ? j.in_flight_stored : j.in_flight_lost);
    // The unanswered event was stored: it is part of the job now.
    if (stored_last == j.last + 1 && j.in_flight) {
      j.acked[stored_last] = *j.in_flight;
      j.last = stored_last;
    }
    j.in_flight.reset();
  }
}

} // namespace

BOOST_AUTO_TEST_CASE(kill9_mid_stream_loses_no_acknowledged_event) {
  constexpr int cycles = 20;
  temp_data_dir dir;
  std::vector<crash_job> jobs(3);
  for (auto& j : jobs)
    j.job_id = unique_job_id("crash");
  std::mt19937 rng{std::random_device{}()};
  auto start = clock_type::now();
  int total_acks = 0;
  for (int cycle = 0; cycle < cycles; ++cycle) {
    server_on srv{dir};
    for (auto& j : jobs)
      verify_after_crash(srv.port(), j, cycle);
    if (current_test_failed())
      break;
    // kill -9 at a random point.
    auto kill_after = std::uniform_int_distribution<int>{1, 300}(rng);
    total_acks += publish_until(srv.port(), cycle, jobs, kill_after, [&] {
      // A short random extra moment, so the kill lands anywhere in a commit.
      std::this_thread::sleep_for(std::chrono::microseconds{
        std::uniform_int_distribution<int>{0, 3000}(rng)});
      srv.kill9();
    });
    if (current_test_failed())
      break;
  }
  // The last crash, checked; then seqs go on at last + 1.
  server_on srv{dir};
  for (auto& j : jobs)
    verify_after_crash(srv.port(), j, cycles);
  http_client http{srv.port()};
  for (auto& j : jobs) {
    auto seq = publish(http, j.job_id, progress_event("after", 1, "after"));
    BOOST_TEST(seq == j.last + 1, j.job_id << ": the publish after the last "
                                              "crash got seq "
                                           << seq << ", expected "
                                           << j.last + 1);
    auto snap = get_snapshot(srv.port(), j.job_id);
    BOOST_TEST(snap["last_seq"].as_int() == seq);
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
    clock_type::now() - start);
  BOOST_TEST_MESSAGE(cycles << " kill -9 cycles, " << total_acks
                            << " acknowledged events, " << elapsed.count()
                            << " ms; last seqs " << jobs[0].last << ", "
                            << jobs[1].last << ", " << jobs[2].last
                            << "; unanswered publishes at the kills: "
                            << jobs[0].in_flight_stored
                                 + jobs[1].in_flight_stored
                                 + jobs[2].in_flight_stored
                            << " found stored, "
                            << jobs[0].in_flight_lost + jobs[1].in_flight_lost
                                 + jobs[2].in_flight_lost
                            << " not stored");
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(sigterm_while_publishing_exits_clean_and_keeps_every_acknowledged_event) {
  // HTTP publishes still waiting for their answers when the server stops
  // once held their sessions past the io_context (a use after free, and a
  // crash in most such stops).
  constexpr int cycles = 5;
  temp_data_dir dir;
  std::vector<crash_job> jobs(4);
  for (auto& j : jobs)
    j.job_id = unique_job_id("term");
  for (int cycle = 0; cycle < cycles; ++cycle) {
    server_on srv{dir, {"--drain-seconds=1"}};
    for (auto& j : jobs)
      verify_after_crash(srv.port(), j, cycle);
    if (current_test_failed())
      break;
    publish_until(srv.port(), cycle, jobs, 200, [&] { srv.stop_clean(); });
    if (current_test_failed())
      break;
  }
  server_on srv{dir};
  for (auto& j : jobs)
    verify_after_crash(srv.port(), j, cycles);
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(sigterm_with_a_subscriber_that_stopped_reading_exits_after_the_drain) {
  // A write waiting behind one the stalled client never took (here the
  // heartbeat's ping) lives in the session's own stream and holds the
  // session: it outlived the io_context, and so did its connection actor,
  // and the server never exited.
  temp_data_dir dir;
  server_on srv{dir, {"--drain-seconds=1", "--heartbeat=2"}};
  auto job = unique_job_id("stalled_term");
  raw_ws stalled;
  auto opened = std::chrono::steady_clock::now();
  stalled.open(srv.port(), 4096);
  stalled.send_text(subscribe_cmd(job));
  auto sub = stalled.read_json(5s);
  BOOST_REQUIRE_MESSAGE((sub && type_of(*sub) == "subscribed"), "no subscribed");
  http_client http{srv.port()};
  auto results = R"({"x":")" + std::string(3000, 'y') + R"("})";
  // ~1.2 MB, far more than the stalled client's socket takes.
  for (int seq = 1; seq <= 400; ++seq)
    BOOST_REQUIRE(publish(http, job, stage_complete_event("s", results)) == seq);
  // A ping has been made behind the stuck write by then, and the client is
  // not yet dropped for the two unanswered (that takes three periods).
  std::this_thread::sleep_until(opened + 3s);
  srv.stop_clean();
}

// -- resume ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(resume_across_restart_gets_exactly_the_missed_events) {
  temp_data_dir dir;
  auto job = unique_job_id("resume_restart");
  std::string old_id;
  {
    server_on a{dir};
    auto ws = open_ws(a.port(), &old_id);
    subscribe(ws, job);
    http_client http{a.port()};
    publish_range(http, job, 1, 3);
    auto got = read_events(ws, job, 3);
    BOOST_TEST(seqs_of(got) == range(1, 3));
    ws.close();
    BOOST_TEST(wait_unlisted(a.port(), job, old_id),
               "the closed connection is still listed");
    a.stop_clean();
  }
  server_on b{dir};
  http_client http{b.port()};
  publish_range(http, job, 4, 7);
  auto ws = resume_expecting(b.port(), old_id, job, 4, 7);
  // Then live events.
  BOOST_TEST(publish(http, job, progress_event("s", 8, "m8")) == 8);
  auto live = read_events(ws, job, 1);
  BOOST_TEST(seqs_of(live) == std::vector<int64_t>{8});
  // The record was taken over: a second resume of the old id is refused.
  expect_resume_refused(b.port(), old_id);
  ws.close();
  b.stop_clean();
}

BOOST_AUTO_TEST_CASE(resumed_lists_only_the_jobs_taken_over) {
  // Restarted with fewer subscriptions allowed than the record follows:
  // `resumed` listed every job, then refused one of them.
  temp_data_dir dir;
  std::vector<std::string> jobs{unique_job_id("room_a"), unique_job_id("room_b"),
                                unique_job_id("room_c")};
  std::string old_id;
  {
    server_on a{dir};
    auto ws = open_ws(a.port(), &old_id);
    for (auto& j : jobs)
      subscribe(ws, j);
    ws.close();
    for (auto& j : jobs)
      BOOST_TEST(wait_unlisted(a.port(), j, old_id));
    a.stop_clean();
  }
  server_on b{dir, {"--max-subscriptions=2"}};
  auto ws = open_ws(b.port());
  ws.send_text(resume_cmd(old_id));
  auto reply = ws.read_json();
  BOOST_REQUIRE_MESSAGE(type_of(reply) == "resumed", "got " << reply);
  std::vector<std::string> listed;
  for (auto& x : reply["job_ids"].as_array())
    listed.push_back(x.as_string());
  BOOST_TEST(listed.size() == 2u, "resumed: " << reply);
  // The job left out is the one refused, and the others are followed
  // (`subscribed` comes from each job's actor, so it may pass the pong).
  std::vector<json_value> rest;
  for (int i = 0; i < 3; ++i)
    rest.push_back(ws.read_json());
  for (auto& extra : ping_barrier(ws))
    rest.push_back(extra);
  std::vector<std::string> refused;
  std::vector<std::string> subscribed;
  for (auto& f : rest) {
    if (type_of(f) == "error") {
      auto job = f.contains("job_id") ? f["job_id"].as_string() : "?";
      check_error(f, "too_many_subscriptions", job);
      refused.push_back(job);
    } else if (type_of(f) == "subscribed") {
      subscribed.push_back(f["job_id"].as_string());
    }
  }
  BOOST_TEST(refused.size() == 1u, describe(rest));
  std::sort(listed.begin(), listed.end());
  std::sort(subscribed.begin(), subscribed.end());
  BOOST_TEST(subscribed == listed, describe(rest));
  for (auto& r : refused)
    BOOST_TEST(!std::binary_search(listed.begin(), listed.end(), r),
               r << " refused yet listed in " << reply);
  ws.close();
  b.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_connection_resuming_itself_is_told_so) {
  // It was told its own id was "unknown or has expired".
  temp_data_dir dir;
  server_on srv{dir};
  auto job = unique_job_id("itself");
  std::string id;
  auto ws = open_ws(srv.port(), &id);
  subscribe(ws, job);
  ws.send_text(resume_cmd(id));
  auto reply = ws.read_json();
  check_error(reply, "connection_not_found");
  BOOST_TEST(reply["message"].as_string().find("is this one")
               != std::string::npos,
             reply);
  // Still subscribed, as before the resume.
  http_client http{srv.port()};
  publish_range(http, job, 1, 1);
  BOOST_TEST(seqs_of(read_events(ws, job, 1)) == std::vector<int64_t>{1});
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(resume_of_an_expired_record_is_refused) {
  temp_data_dir dir;
  server_on srv{dir, {"--connection-ttl=1"}};
  auto job = unique_job_id("expired");
  std::string id;
  std::string control_id;
  {
    auto ws = open_ws(srv.port(), &id);
    subscribe(ws, job);
    auto control = open_ws(srv.port(), &control_id);
    subscribe(control, job);
    ws.close();
    control.close();
  }
  auto closed = clock_type::now();
  BOOST_TEST(wait_unlisted(srv.port(), job, id));
  BOOST_TEST(wait_unlisted(srv.port(), job, control_id));
  // Within the TTL a closed record resumes (the control)...
  {
    auto ws = open_ws(srv.port());
    ws.send_text(resume_cmd(control_id));
    auto reply = ws.read_json();
    BOOST_TEST(type_of(reply) == "resumed",
               "resume " << ms_since(closed) << " ms after the close with "
                         << "--connection-ttl=1: " << reply);
    ws.close();
  }
  // ...but 2 s after the close (the TTL is 1 s) it has expired.
  auto until = closed + 2200ms;
  eventually([&] { return clock_type::now() >= until; }, 5s);
  expect_resume_refused(srv.port(), id);
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(resume_right_after_close_of_a_long_open_connection) {
  // "--connection-ttl: seconds a closed connection stays resumable": a
  // connection that was open for longer than the TTL and has just closed
  // is still resumable.
  temp_data_dir dir;
  server_on srv{dir, {"--connection-ttl=2"}};
  auto job = unique_job_id("long_open");
  http_client http{srv.port()};
  std::string id;
  {
    auto ws = open_ws(srv.port(), &id);
    subscribe(ws, job);
    BOOST_TEST(publish(http, job, progress_event("s", 1, "m1")) == 1);
    BOOST_TEST(seqs_of(read_events(ws, job, 1)) == std::vector<int64_t>{1});
    // Open (and reading, answering pings) for 3 s, longer than the TTL.
    auto until = clock_type::now() + 3s;
    while (clock_type::now() < until)
      if (auto f = ws.read_frame(100ms))
        BOOST_ERROR("unexpected frame " << f->payload);
    ws.close();
  }
  BOOST_TEST(wait_unlisted(srv.port(), job, id));
  BOOST_TEST(publish(http, job, progress_event("s", 2, "m2")) == 2);
  auto ws = open_ws(srv.port());
  ws.send_text(resume_cmd(id));
  auto reply = ws.read_json();
  BOOST_TEST(type_of(reply) == "resumed",
             "resume right after the close of a connection that was open "
             "longer than --connection-ttl: expected resumed, got "
               << reply);
  if (type_of(reply) == "resumed") {
    ws.read_type("subscribed");
    BOOST_TEST(seqs_of(read_events(ws, job, 1)) == std::vector<int64_t>{2});
  }
  ws.close();
  srv.stop_clean();
}

/// Starts a server on `dir` (after a stop or a crash), publishes
/// `first`..`last` to `job`, and checks that a resume of `old_id` gets
/// exactly those.
void restart_publish_and_resume(const temp_data_dir& dir,
                                const std::string& job,
                                const std::string& old_id, int first,
                                int last) {
  server_on b{dir};
  http_client http{b.port()};
  publish_range(http, job, first, last);
  auto ws = resume_expecting(b.port(), old_id, job, first, last);
  ws.close();
  b.stop_clean();
}

BOOST_AUTO_TEST_CASE(client_open_at_sigterm_gets_a_hint_and_resumes) {
  // PROTOCOL.md: resume_hint, then close 1012, before a restart; the
  // hinted id resumes on the restarted server.
  temp_data_dir dir;
  auto job = unique_job_id("hint");
  std::string old_id;
  {
    server_on a{dir};
    auto ws = open_ws(a.port(), &old_id);
    subscribe(ws, job);
    http_client http{a.port()};
    publish_range(http, job, 1, 2);
    BOOST_TEST(seqs_of(read_events(ws, job, 2)) == range(1, 2));
    ::kill(a->pid(), SIGTERM);
    auto info = ws.wait_close(15s);
    BOOST_TEST(info.close_frame, "no close frame: " << info.to_string());
    BOOST_TEST(info.code == 1012, info.to_string());
    std::optional<json_value> hint;
    for (auto& f : info.before) {
      auto x = json_value::parse(f.payload);
      if (type_of(x) == "resume_hint")
        hint = x;
      else
        BOOST_ERROR("unexpected frame before the close: " << x);
    }
    BOOST_REQUIRE_MESSAGE(hint.has_value(), "no resume_hint before the close: "
                                              << info.to_string());
    check_string(*hint, "connection_id", old_id);
    BOOST_TEST((hint->contains("retry_after_ms")
                && (*hint)["retry_after_ms"].is_integer()),
               "retry_after_ms in " << *hint);
    check_timestamp(*hint);
    // Gone for good (the harness client stops at the close frame and would
    // leave the server waiting for the closing handshake).
    { auto gone = std::move(ws); }
    a.stop_clean();
  }
  restart_publish_and_resume(dir, job, old_id, 3, 5);
}

BOOST_AUTO_TEST_CASE(resume_after_abrupt_drop_gets_exactly_the_missed_events) {
  temp_data_dir dir;
  server_on srv{dir};
  http_client http{srv.port()};
  // Twice: once reset (RST), once a bare TCP close (FIN, no close frame).
  for (bool reset : {true, false}) {
    BOOST_TEST_CONTEXT((reset ? "RST" : "FIN without a close frame")) {
      auto job = unique_job_id("drop");
      raw_ws client;
      client.answer_pings = true;
      open_subscribed(client, srv.port(), job);
      auto old_id = client.connection_id();
      publish_range(http, job, 1, 3);
      event_stream seen{job, 1, false};
      while (seen.last_seq() < 3) {
        auto x = client.read_json(5s);
        if (!x)
          break;
        seen.on_event(*x);
      }
      BOOST_TEST(seen.last_seq() == 3);
      if (reset)
        client.socket().abort();
      else
        client.socket().close();
      BOOST_TEST(wait_unlisted(srv.port(), job, old_id),
                 "the dropped connection is still listed");
      publish_range(http, job, 4, 6);
      auto ws = resume_expecting(srv.port(), old_id, job, 4, 6);
      BOOST_TEST(publish(http, job, progress_event("s", 7, "m7")) == 7);
      BOOST_TEST(seqs_of(read_events(ws, job, 1)) == std::vector<int64_t>{7});
      for (auto& e : seen.errors)
        BOOST_ERROR(e);
      ws.close();
    }
  }
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(resume_goes_on_from_where_a_subscribe_without_since_began) {
  // A subscribe without since_seq follows the job from its last event on.
  // Its resume replayed the job's whole history when no live event had
  // reached the connection, and nothing of it when one had.
  temp_data_dir dir;
  server_on srv{dir};
  http_client http{srv.port()};
  auto job = unique_job_id("from_now");
  publish_range(http, job, 1, 3);
  raw_ws client;
  auto sub = open_subscribed(client, srv.port(), job);
  auto old_id = client.connection_id();
  BOOST_TEST(sub["status"]["last_seq"].as_int() == 3);
  client.socket().close();
  BOOST_TEST(wait_unlisted(srv.port(), job, old_id),
             "the closed connection is still listed");
  publish_range(http, job, 4, 4);
  auto ws = resume_expecting(srv.port(), old_id, job, 4, 4);
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(resume_takes_all_of_a_job_begun_again_under_its_id) {
  // A finished job is forgotten after --job-retention; a publish to its id
  // then begins a new job at seq 1. A connection that had been sent the old
  // job's 1 and 2 resumed from 2 and missed the new job's 1 and 2.
  temp_data_dir dir;
  server_on srv{dir, {"--job-retention=1", "--connection-ttl=600"}};
  http_client http{srv.port()};
  auto job = unique_job_id("begun_again");
  raw_ws client;
  open_subscribed(client, srv.port(), job);
  auto old_id = client.connection_id();
  publish_range(http, job, 1, 1);
  BOOST_TEST(publish(http, job, job_complete_event("{}")) == 2);
  for (int seq = 1; seq <= 2; ++seq) {
    auto ev = client.read_json(5s);
    BOOST_REQUIRE(ev.has_value());
    BOOST_TEST((*ev)["seq"].as_int() == seq);
  }
  client.socket().close();
  BOOST_TEST(wait_unlisted(srv.port(), job, old_id),
             "the closed connection is still listed");
  BOOST_REQUIRE_MESSAGE(eventually([&] {
    return http.get("/v1/jobs/" + job).status == 404;
  }, 30s), "the finished job was not forgotten");
  publish_range(http, job, 1, 3);
  auto ws = resume_expecting(srv.port(), old_id, job, 1, 3);
  auto extra = ping_barrier(ws);
  BOOST_TEST(extra.empty(), "unexpected frame: " << describe(extra));
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(resume_of_a_still_open_connection_is_a_takeover) {
  // A client whose TCP connection died without the server noticing yet
  // (half-open) resumes on a new connection. The resume takes the earlier
  // connection's record over: when the server later drops the half-open
  // connection, its id must not become resumable a second time.
  temp_data_dir dir;
  server_on srv{dir};
  auto job = unique_job_id("takeover");
  http_client http{srv.port()};
  raw_ws half_open; // never reads again, answers nothing
  half_open.open(srv.port());
  auto old_id = half_open.connection_id();
  half_open.send_text(subscribe_cmd(job));
  BOOST_REQUIRE(half_open.read_json(5s).has_value());
  auto ws = resumed_on(srv.port(), old_id, job);
  BOOST_TEST(publish(http, job, progress_event("s", 1, "m1")) == 1);
  BOOST_TEST(seqs_of(read_events(ws, job, 1)) == std::vector<int64_t>{1});
  // Now the server notices the old connection is gone.
  half_open.socket().abort();
  BOOST_TEST(wait_unlisted(srv.port(), job, old_id));
  auto again = open_ws(srv.port());
  again.send_text(resume_cmd(old_id));
  auto reply = again.read_json();
  BOOST_TEST(type_of(reply) == "error",
             "a second resume of " << old_id << " (already resumed by "
                                   << "another connection) was accepted: "
                                   << reply);
  if (type_of(reply) == "error")
    check_error(reply, "connection_not_found");
  again.close();
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_takeover_goes_on_from_what_the_old_peer_acknowledged) {
  // A client that went silent after receiving seqs 1..6 resumes on a new
  // connection before the server noticed. The record stored at its
  // subscribe said 0, and the takeover replayed 1..6. Its TCP had
  // acknowledged all six: the resume now goes on from 6.
  temp_data_dir dir;
  server_on srv{dir};
  auto job = unique_job_id("acked");
  http_client http{srv.port()};
  raw_ws silent;
  silent.open(srv.port());
  auto old_id = silent.connection_id();
  silent.send_text(subscribe_cmd(job));
  BOOST_REQUIRE(raw_read_type(silent, "subscribed", 5s));
  publish_range(http, job, 1, 6);
  for (int seq = 1; seq <= 6; ++seq) {
    auto ev = raw_read_type(silent, "progress_update", 5s);
    BOOST_REQUIRE(ev.has_value());
    check_int(*ev, "seq", seq);
  }
  auto ws = resumed_on(srv.port(), old_id, job);
  auto replayed = ping_barrier(ws);
  BOOST_TEST(replayed.empty(), "replayed after the takeover: "
                                 << describe(replayed));
  BOOST_TEST(publish(http, job, progress_event("s", 7, "m7")) == 7);
  BOOST_TEST(seqs_of(read_events(ws, job, 1)) == std::vector<int64_t>{7});
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_takeover_of_a_peer_behind_on_acknowledgements_loses_nothing) {
  // The old peer's TCP has not acknowledged all it was sent (its window is
  // full): what it got is unknown, so the resume goes on from the stored
  // record and sends everything after it.
  temp_data_dir dir;
  server_on srv{dir, {"--socket-send-buffer=65536"}};
  auto job = unique_job_id("unacked");
  http_client http{srv.port()};
  raw_ws stalled;
  stalled.open(srv.port(), 4096);
  auto old_id = stalled.connection_id();
  stalled.send_text(subscribe_cmd(job));
  BOOST_REQUIRE(raw_read_type(stalled, "subscribed", 5s));
  auto results = R"({"x":")" + std::string(2000, 'y') + R"("})";
  constexpr int total = 200; // ~400 KB, far more than the window
  for (int seq = 1; seq <= total; ++seq)
    BOOST_REQUIRE(publish(http, job, stage_complete_event("s", results)) == seq);
  auto ws = resumed_on(srv.port(), old_id, job);
  auto events = read_events(ws, job, total, 30s);
  BOOST_TEST(seqs_of(events) == range(1, total));
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_connection_that_never_subscribed_is_resumable_open_or_closed) {
  // A connection is stored once it has something to keep (a subscription,
  // activity, its close), not at connect. Until then the registry knows it
  // while it is open, so `resume` still takes it over; its close stores it,
  // so `resume` after the close works too.
  temp_data_dir dir;
  server_on srv{dir};
  raw_ws idle; // never sends a command
  idle.open(srv.port());
  auto open_id = idle.connection_id();
  std::string closed_id;
  open_ws(srv.port(), &closed_id).close();
  {
    auto ws = open_ws(srv.port());
    ws.send_text(resume_cmd(open_id));
    expect_resumed(ws, open_id, {});
    // The taken-over connection is told so and closed.
    BOOST_TEST(!idle.read_json(5s).has_value());
    BOOST_TEST(idle.close_seen());
    BOOST_TEST(idle.close_code() == 1000);
    ws.close();
  }
  // Its id is spent: a second resume is refused.
  expect_resume_refused(srv.port(), open_id);
  // The closed one: its record is written at the close, shortly after.
  std::optional<json_value> reply;
  BOOST_TEST(eventually(
    [&] {
      auto ws = open_ws(srv.port());
      ws.send_text(resume_cmd(closed_id));
      reply = ws.read_json();
      ws.close();
      return type_of(*reply) == "resumed";
    },
    5s));
  BOOST_TEST(type_of(*reply) == "resumed", "resume after close: " << *reply);
  srv.stop_clean();
}

BOOST_AUTO_TEST_CASE(after_a_crash_resume_goes_on_from_the_last_progress_record) {
  // What a busy connection was sent reaches its record every
  // --progress-seconds (then within a second, with the others); after a
  // kill -9, resume starts from there. Without that record it would start
  // from the subscription and send 1..3 again.
  temp_data_dir dir;
  auto job = unique_job_id("crashprog");
  std::string old_id;
  {
    server_on a{dir, {"--progress-seconds=1"}};
    auto ws = open_ws(a.port(), &old_id);
    subscribe(ws, job);
    http_client http{a.port()};
    publish_range(http, job, 1, 3);
    BOOST_TEST(seqs_of(read_events(ws, job, 3)) == range(1, 3));
    // A tick (1 s), the registry's gathering (1 s), and slack for a slow
    // (sanitizer) build.
    std::this_thread::sleep_for(5s);
    a.kill9();
  }
  restart_publish_and_resume(dir, job, old_id, 4, 5);
}

BOOST_AUTO_TEST_CASE(after_a_crash_a_subscribe_without_since_resumes_from_its_start) {
  // The subscribe's record was written with seq 0 and corrected only by
  // the next progress record (10 s); a kill -9 before it made the resume
  // send the job's whole history, which the client never asked for.
  temp_data_dir dir;
  auto job = unique_job_id("crashsub");
  std::string old_id;
  {
    server_on a{dir};
    http_client http{a.port()};
    publish_range(http, job, 1, 3);
    auto ws = open_ws(a.port(), &old_id);
    auto sub = subscribe(ws, job);
    BOOST_TEST(sub["status"]["last_seq"].as_int() == 3);
    // The registry's gathering (1 s), and slack for a slow build; well
    // inside --progress-seconds (10).
    std::this_thread::sleep_for(3s);
    a.kill9();
  }
  restart_publish_and_resume(dir, job, old_id, 4, 5);
}

BOOST_AUTO_TEST_CASE(after_a_crash_the_server_restarts_at_once_on_its_ports) {
  // A supervisor restarts a crashed server on the same ports at once. The
  // dead server's connections (a client's, a pipeline's) linger in
  // TIME_WAIT for a minute: the restart must bind anyway.
  temp_data_dir dir;
  auto port = unused_port();
  auto caf_port = unused_port();
  std::vector<std::string> ports{"--port=" + std::to_string(port),
                                 "--caf-port=" + std::to_string(caf_port)};
  {
    server_on a{dir, ports};
    BOOST_REQUIRE_EQUAL(a.port(), port);
    raw_socket client;
    client.connect(port);
    raw_socket pipeline;
    pipeline.connect(caf_port);
    // Let the server accept both before it dies.
    std::this_thread::sleep_for(200ms);
    a.kill9();
    // Each client reads to the end (the kernel's FIN for the dead server)
    // and closes in turn: the dead server's side is left in TIME_WAIT.
    BOOST_TEST(client.wait_eof());
    BOOST_TEST(pipeline.wait_eof());
    client.close();
    pipeline.close();
  }
  server_on b{dir, ports};
  BOOST_TEST(b.port() == port);
  BOOST_TEST(b->stdout_text().find("jobwire caf port "
                                   + std::to_string(caf_port))
             != std::string::npos,
             b->stdout_text());
  http_client http{port};
  BOOST_TEST(publish(http, unique_job_id("restart"),
                     progress_event("s", 1, "m"))
             == 1);
  // Reuse is for the dead: a second server beside a live one is refused,
  // saying which port.
  temp_data_dir other;
  try {
    server_on c{other, ports};
    BOOST_ERROR("a second server started on ports in use");
  } catch (const std::runtime_error& e) {
    std::string why = e.what();
    BOOST_TEST(why.find("cannot publish the ingest actor on 127.0.0.1:"
                        + std::to_string(caf_port))
                 != std::string::npos,
               why);
  }
  b.stop_clean();
}

BOOST_AUTO_TEST_CASE(a_silent_running_job_fails_as_abandoned_even_after_a_crash) {
  // An HTTP publisher that dies leaves its job running; so does a pipeline
  // that is gone when a crashed server comes back. --job-abandon ends such
  // jobs, so their events do not stay forever. --job-idle=1 makes the
  // directory look every 250 ms.
  temp_data_dir dir;
  std::vector<std::string> args{"--job-abandon=2", "--job-idle=1"};
  auto followed = unique_job_id("abandoned");
  auto unfollowed = unique_job_id("abandoned-unfollowed");
  auto busy = unique_job_id("busy");
  {
    server_on a{dir, args};
    http_client http{a.port()};
    BOOST_TEST(publish(http, followed, progress_event("s", 10, "m1")) == 1);
    BOOST_TEST(publish(http, unfollowed, progress_event("s", 10, "m1")) == 1);
    a.kill9();
  }
  server_on b{dir, args};
  auto restarted = clock_type::now();
  auto ws = open_ws(b.port());
  auto sub = subscribe(ws, followed);
  BOOST_TEST(sub["status"]["status"].as_string() == "running", sub);
  http_client http{b.port()};
  // Events keep a job going: one every 0.4 s for 3.2 s.
  for (int i = 1; i <= 8; ++i) {
    BOOST_TEST(publish(http, busy, progress_event("s", i, "m")) == i);
    std::this_thread::sleep_for(400ms);
  }
  auto failed = ws.read_json(10s);
  BOOST_TEST(type_of(failed) == "job_failed",
             "expected job_failed " << ms_since(restarted)
                                    << " ms after the restart, got " << failed);
  check_int(failed, "seq", 2);
  auto error = failed.find("error");
  BOOST_REQUIRE_MESSAGE(error != nullptr && error->is_object(), failed);
  check_string(*error, "code", "abandoned");
  BOOST_TEST(eventually(
               [&] {
                 return get_snapshot(b.port(), unfollowed)["status"].as_string()
                        == "failed";
               },
               10s),
             get_snapshot(b.port(), unfollowed));
  BOOST_TEST(get_snapshot(b.port(), busy)["status"].as_string() == "running");
  // It ended: a publisher coming back late is told so.
  check_http_error(http.post(events_path(followed),
                             progress_event("s", 20, "late")),
                   409, "job_finished");
  b.stop_clean();
}

BOOST_AUTO_TEST_CASE(after_a_crash_a_never_subscribed_connection_is_unknown) {
  // What the lazy record costs: a connection open at a kill -9 that never
  // subscribed left nothing to resume, and `resume` says so. One that
  // subscribed resumes its job.
  temp_data_dir dir;
  auto job = unique_job_id("crashsub");
  std::string idle_id;
  std::string sub_id;
  {
    server_on srv{dir};
    raw_ws idle;
    idle.open(srv.port());
    idle_id = idle.connection_id();
    raw_ws sub;
    sub.open(srv.port());
    sub_id = sub.connection_id();
    sub.send_text(subscribe_cmd(job));
    auto reply = sub.read_json(5s);
    BOOST_TEST_REQUIRE(reply.has_value());
    BOOST_TEST(type_of(*reply) == "subscribed");
    // Listed means stored: the job index is written with the record.
    BOOST_TEST(wait_listed(srv.port(), job, sub_id));
    srv.kill9();
  }
  server_on srv{dir};
  expect_resume_refused(srv.port(), idle_id);
  auto ws = open_ws(srv.port());
  ws.send_text(resume_cmd(sub_id));
  expect_resumed(ws, sub_id, {job});
  ws.close();
  srv.stop_clean();
}

BOOST_AUTO_TEST_SUITE_END()
