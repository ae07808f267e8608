#define BOOST_TEST_MODULE job_actor
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <filesystem>
#include <optional>
#include <variant>
#include <string>
#include <thread>
#include <vector>

#include <simdjson.h>

#include "caf/all.hpp"

#include "actors/directory_actor.hpp"
#include "actors/job_actor.hpp"
#include "actors/registry_actor.hpp"
#include "messages/error_code.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "support/deterministic_config.hpp"
#include "support/stand_in_connection.hpp"
#include "support/temp_dir.hpp"

using namespace jobwire;
using namespace std::chrono_literals;

namespace {

/// Frames received by one recording connection, parsed.
using frame_log = std::shared_ptr<std::vector<std::string>>;

using test::temp_dir;

std::shared_ptr<storage> open_test_storage(const std::string& path) {
  env_options opts;
  opts.path = path;
  opts.map_size = size_t{16} << 20;
  opts.durability = durability::nosync;
  std::string error;
  auto db = open_storage(opts, error);
  BOOST_REQUIRE_MESSAGE(db != nullptr, error);
  return db;
}

/// Directory, registry and a real LMDB store on CAF's deterministic
/// scheduler; no threads, no sleeps.
struct fixture {
  temp_dir dir;
  std::shared_ptr<storage> db = open_test_storage(dir.path);
  test::deterministic_config cfg{"warn"};
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  registry_actor store = sys.spawn(registry_impl, db, registry_settings{});
  /// What restart_directory() starts the job actors with.
  job_settings settings;
  directory_actor registry = sys.spawn(directory_impl, db, store, settings);

  ~fixture() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Stops every job actor and starts a new directory: what a restart does
  /// to memory, with the store kept.
  void restart_directory() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
    registry = sys.spawn(directory_impl, db, store, settings);
    sched.run();
  }

  /// Lets a few wall-clock ms pass (the times to look at running jobs again
  /// are stored wall-clock) and the directory's next tick (every 15 s of the
  /// test clock), which hands the due ones to their actors.
  void pass_directory_look() {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sched.advance_time(std::chrono::seconds(16));
    sched.run();
  }

  /// A recording connection and its frames.
  std::pair<connection_actor, frame_log> connect() {
    auto frames = std::make_shared<std::vector<std::string>>();
    return {sys.spawn(test::stand_in_connection,
                      test::on_frame([frames](const std::string& text) {
                        frames->push_back(text);
                      })),
            frames};
  }

  void command(const connection_actor& who, command_type type,
               std::string job_id, std::string request_id = "",
               std::optional<uint64_t> since = std::nullopt,
               std::string reason = "") {
    client_command cmd;
    cmd.type = type;
    cmd.job_id = std::move(job_id);
    cmd.request_id = std::move(request_id);
    cmd.has_since_seq = since.has_value();
    cmd.since_seq = since.value_or(0);
    cmd.reason = std::move(reason);
    caf::anon_send(registry, command_atom::value, std::move(cmd), who,
                   std::string{"conn_1_0000000000000000"});
    sched.run();
  }

  /// Publishes and returns the seq, or the error code.
  std::variant<uint64_t, error_code> publish(job_event ev) {
    std::variant<uint64_t, error_code> out = error_code::internal;
    auto client = sys.spawn([&, ev](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, publish_atom::value, ev)
        .then([&](uint64_t seq) { out = seq; },
              [&](caf::error& err) { out = to_error_code(err); });
    });
    sched.run();
    return out;
  }

  /// Attaches `worker` to `job_id`, as a pipeline's worker attaches.
  void attach(const std::string& job_id, const worker_actor& worker) {
    sys.spawn([&](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, attach_atom::value, job_id, worker)
        .then([](const job_snapshot&) {},
              [](caf::error& e) { BOOST_ERROR("attach: " << to_string(e)); });
    });
    sched.run();
  }

  job_snapshot status(const std::string& job_id, error_code* err = nullptr) {
    job_snapshot out;
    sys.spawn([&](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, status_atom::value, job_id)
        .then([&](job_snapshot& x) { out = x; },
              [&](caf::error& e) {
                if (err)
                  *err = to_error_code(e);
              });
    });
    sched.run();
    return out;
  }
};

/// A stand-in worker that records the reasons of the cancels it is sent.
using reason_log = std::shared_ptr<std::vector<std::string>>;

worker_actor::behavior_type cancel_recorder(worker_actor::pointer,
                                            reason_log reasons) {
  return {
    [reasons](cancel_atom, const std::string&, const std::string& reason) {
      reasons->push_back(reason);
    },
  };
}

/// A worker whose cancels nobody checks.
worker_actor spawn_worker(caf::actor_system& sys) {
  return sys.spawn(cancel_recorder,
                   std::make_shared<std::vector<std::string>>());
}

job_event progress(std::string job, double pct, std::string stage = "s1") {
  job_event ev;
  ev.type = event_type::progress_update;
  ev.job_id = std::move(job);
  ev.stage = std::move(stage);
  ev.progress = pct;
  return ev;
}

job_event of_type(std::string job, event_type t) {
  job_event ev;
  ev.type = t;
  ev.job_id = std::move(job);
  if (t == event_type::job_failed) {
    ev.error_code = "boom";
    ev.error_message = "it broke";
  }
  return ev;
}

simdjson::dom::element parse(simdjson::dom::parser& p, const std::string& s) {
  return p.parse(s);
}

std::string type_of(const std::string& frame) {
  simdjson::dom::parser p;
  return std::string{std::string_view(parse(p, frame)["type"])};
}

uint64_t seq_of(const std::string& frame) {
  simdjson::dom::parser p;
  return uint64_t(parse(p, frame)["seq"]);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(job_actor_tests, fixture)

BOOST_AUTO_TEST_CASE(seq_starts_at_one_and_grows_by_one) {
  for (uint64_t i = 1; i <= 5; ++i)
    BOOST_TEST(std::get<uint64_t>(publish(progress("j1", i * 10.0))) == i);
  // Another job counts on its own.
  BOOST_TEST(std::get<uint64_t>(publish(progress("j2", 1))) == 1u);
  BOOST_TEST(status("j1").last_seq == 5u);
}

BOOST_AUTO_TEST_CASE(first_event_makes_running_terminal_ends_it) {
  error_code err = error_code::internal;
  status("j1", &err);
  BOOST_TEST(to_string(err) == "job_not_found");
  publish(progress("j1", 10));
  BOOST_TEST(to_string(status("j1").status) == "running");
  publish(of_type("j1", event_type::stage_complete));
  BOOST_TEST(to_string(status("j1").status) == "running");
  publish(of_type("j1", event_type::job_failed));
  BOOST_TEST(to_string(status("j1").status) == "failed");
  auto late = publish(progress("j1", 20));
  BOOST_REQUIRE(std::holds_alternative<error_code>(late));
  BOOST_TEST(to_string(std::get<error_code>(late)) == "job_finished");
  BOOST_TEST(status("j1").last_seq == 3u);
}

BOOST_AUTO_TEST_CASE(each_terminal_type_sets_its_status) {
  publish(progress("a", 1));
  publish(of_type("a", event_type::job_complete));
  publish(progress("b", 1));
  publish(of_type("b", event_type::job_cancelled));
  BOOST_TEST(to_string(status("a").status) == "completed");
  BOOST_TEST(status("a").progress == 100.0);
  BOOST_TEST(to_string(status("b").status) == "cancelled");
}

BOOST_AUTO_TEST_CASE(duplicate_event_id_is_stored_once) {
  auto ev = progress("j1", 10);
  ev.event_id = "e-1";
  BOOST_TEST(std::get<uint64_t>(publish(ev)) == 1u);
  publish(progress("j1", 20));
  BOOST_TEST(std::get<uint64_t>(publish(ev)) == 1u);
  BOOST_TEST(status("j1").last_seq == 2u);
}

BOOST_AUTO_TEST_CASE(server_eta_from_progress_rate) {
  publish(progress("j1", 10));
  BOOST_TEST(!status("j1").has_eta);
  sched.advance_time(10s);
  publish(progress("j1", 30)); // 20 points in 10 s: 70 left take 35 s
  auto snap = status("j1");
  BOOST_TEST(snap.has_eta);
  BOOST_TEST(snap.eta_seconds == 35.0);
  // A new stage starts measuring again.
  sched.advance_time(1s);
  publish(progress("j1", 0, "s2"));
  BOOST_TEST(!status("j1").has_eta);
}

BOOST_AUTO_TEST_CASE(publisher_eta_wins) {
  publish(progress("j1", 10));
  sched.advance_time(10s);
  auto ev = progress("j1", 30);
  ev.has_eta = true;
  ev.eta_seconds = 7;
  publish(ev);
  BOOST_TEST(status("j1").eta_seconds == 7.0);
}

BOOST_AUTO_TEST_CASE(subscriber_gets_subscribed_then_events_in_order) {
  auto [conn, frames] = connect();
  command(conn, command_type::subscribe, "j1", "r1");
  BOOST_REQUIRE_EQUAL(frames->size(), 1u);
  BOOST_TEST(type_of(frames->at(0)) == "subscribed");
  BOOST_TEST(frames->at(0).find("\"status\":\"pending\"") != std::string::npos);
  for (int i = 1; i <= 3; ++i)
    publish(progress("j1", i));
  BOOST_REQUIRE_EQUAL(frames->size(), 4u);
  for (uint64_t i = 1; i <= 3; ++i)
    BOOST_TEST(seq_of(frames->at(i)) == i);
}

BOOST_AUTO_TEST_CASE(two_subscribers_share_one_serialised_event) {
  auto [a, fa] = connect();
  auto [b, fb] = connect();
  command(a, command_type::subscribe, "j1");
  command(b, command_type::subscribe, "j1");
  publish(progress("j1", 5));
  BOOST_REQUIRE_EQUAL(fa->size(), 2u);
  BOOST_REQUIRE_EQUAL(fb->size(), 2u);
  BOOST_TEST(fa->at(1) == fb->at(1));
}

BOOST_AUTO_TEST_CASE(since_seq_replays_stored_events) {
  for (int i = 1; i <= 5; ++i)
    publish(progress("j1", i));
  auto [conn, frames] = connect();
  command(conn, command_type::subscribe, "j1", "", 2);
  BOOST_REQUIRE_EQUAL(frames->size(), 4u); // subscribed + seq 3, 4, 5
  BOOST_TEST(seq_of(frames->at(1)) == 3u);
  BOOST_TEST(seq_of(frames->at(3)) == 5u);
  // Subscribing again from 0 sends 1 and 2, never sent, and nothing twice.
  command(conn, command_type::subscribe, "j1", "", 0);
  BOOST_REQUIRE_EQUAL(frames->size(), 7u);
  BOOST_TEST(type_of(frames->at(4)) == "subscribed");
  BOOST_TEST(seq_of(frames->at(5)) == 1u);
  BOOST_TEST(seq_of(frames->at(6)) == 2u);
  command(conn, command_type::subscribe, "j1", "", 0);
  BOOST_REQUIRE_EQUAL(frames->size(), 8u);
  BOOST_TEST(type_of(frames->at(7)) == "subscribed");
  // A since_seq past the end replays nothing.
  auto [late, late_frames] = connect();
  command(late, command_type::subscribe, "j1", "", 99);
  BOOST_TEST(late_frames->size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_earlier_since_seq_during_a_replay_fills_in_before_it) {
  settings.replay_step_frames = 2;
  restart_directory();
  for (int i = 1; i <= 6; ++i)
    publish(progress("j1", i));
  auto [conn, frames] = connect();
  // The second subscribe arrives while the first replays 4 to 6 in steps.
  for (uint64_t since : {3, 0}) {
    client_command cmd;
    cmd.type = command_type::subscribe;
    cmd.job_id = "j1";
    cmd.has_since_seq = true;
    cmd.since_seq = since;
    caf::anon_send(registry, command_atom::value, std::move(cmd), conn,
                   std::string{"conn_1_0000000000000000"});
  }
  sched.run();
  std::vector<uint64_t> seqs;
  for (auto& f : *frames)
    if (type_of(f) == "progress_update")
      seqs.push_back(seq_of(f));
  // 4 and 5 went before the second subscribe; then 1 to 3, never sent, and
  // the rest of the first replay; each once.
  BOOST_TEST(seqs == (std::vector<uint64_t>{4, 5, 1, 2, 3, 6}),
             boost::test_tools::per_element());
  publish(progress("j1", 7));
  BOOST_TEST(seq_of(frames->back()) == 7u);
}

BOOST_AUTO_TEST_CASE(no_event_after_unsubscribed) {
  auto [conn, frames] = connect();
  command(conn, command_type::subscribe, "j1");
  publish(progress("j1", 1));
  command(conn, command_type::unsubscribe, "j1");
  publish(progress("j1", 2));
  BOOST_REQUIRE_EQUAL(frames->size(), 3u);
  BOOST_TEST(type_of(frames->back()) == "unsubscribed");
}

BOOST_AUTO_TEST_CASE(cancel_without_worker_ends_job_reply_first) {
  auto [conn, frames] = connect();
  command(conn, command_type::cancel_job, "j1", "c0");
  BOOST_TEST(frames->back().find("job_not_found") != std::string::npos);
  command(conn, command_type::subscribe, "j1");
  publish(progress("j1", 1));
  command(conn, command_type::cancel_job, "j1", "c1", std::nullopt, "user");
  BOOST_REQUIRE_EQUAL(frames->size(), 5u);
  BOOST_TEST(type_of(frames->at(3)) == "cancel_requested");
  BOOST_TEST(type_of(frames->at(4)) == "job_cancelled");
  BOOST_TEST(frames->at(4).find("\"reason\":\"user\"") != std::string::npos);
  auto snap = status("j1");
  BOOST_TEST(snap.cancel_requested);
  BOOST_TEST(to_string(snap.status) == "cancelled");
  command(conn, command_type::cancel_job, "j1");
  BOOST_TEST(frames->back().find("job_finished") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cancel_passed_to_a_worker_is_stored_and_outlives_a_restart) {
  auto [conn, frames] = connect();
  publish(progress("j1", 10));
  auto reasons = std::make_shared<std::vector<std::string>>();
  attach("j1", sys.spawn(cancel_recorder, reasons));
  command(conn, command_type::cancel_job, "j1", "c1", std::nullopt, "user");
  BOOST_TEST(*reasons == std::vector<std::string>{"user"});
  BOOST_REQUIRE(!frames->empty());
  BOOST_TEST(type_of(frames->back()) == "cancel_requested");
  // The worker has not ended the job yet when the server restarts.
  restart_directory();
  auto snap = status("j1");
  BOOST_TEST(to_string(snap.status) == "running");
  BOOST_TEST(snap.cancel_requested);
  BOOST_TEST(snap.last_seq == 1u); // the cancel is no event
  // A worker attaching now is told, with the reason.
  auto later = std::make_shared<std::vector<std::string>>();
  attach("j1", sys.spawn(cancel_recorder, later));
  BOOST_TEST(*later == std::vector<std::string>{"user"});
}

BOOST_AUTO_TEST_CASE(request_status_replies_snapshot) {
  auto [conn, frames] = connect();
  command(conn, command_type::request_status, "j1", "q1");
  BOOST_TEST(type_of(frames->back()) == "error");
  publish(progress("j1", 42));
  command(conn, command_type::request_status, "j1", "q2");
  BOOST_TEST(type_of(frames->back()) == "job_status");
  BOOST_TEST(frames->back().find("\"progress\":42") != std::string::npos);
  BOOST_TEST(frames->back().find("\"request_id\":\"q2\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(idle_pending_job_is_released) {
  auto [conn, frames] = connect();
  auto before = sys.registry().running();
  command(conn, command_type::subscribe, "ghost");
  BOOST_TEST(sys.registry().running() == before + 1); // the job actor
  command(conn, command_type::unsubscribe, "ghost");
  // No events, no subscribers: the job actor is gone at once.
  BOOST_TEST(sys.registry().running() == before);
  // A fresh subscribe starts a new, empty job.
  command(conn, command_type::subscribe, "ghost");
  BOOST_TEST(frames->back().find("\"last_seq\":0") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(job_actor_persistence, fixture)

BOOST_AUTO_TEST_CASE(seq_and_snapshot_survive_a_restart) {
  for (int i = 1; i <= 3; ++i)
    publish(progress("j1", i * 10.0));
  restart_directory();
  auto snap = status("j1");
  BOOST_TEST(snap.last_seq == 3u);
  BOOST_TEST(snap.progress == 30.0);
  BOOST_TEST(std::get<uint64_t>(publish(progress("j1", 40))) == 4u);
}

BOOST_AUTO_TEST_CASE(replay_reads_the_store_after_a_restart) {
  for (int i = 1; i <= 4; ++i)
    publish(progress("j1", i));
  restart_directory();
  auto [conn, frames] = connect();
  command(conn, command_type::subscribe, "j1", "", 1);
  BOOST_REQUIRE_EQUAL(frames->size(), 4u);
  BOOST_TEST(seq_of(frames->at(1)) == 2u);
  BOOST_TEST(seq_of(frames->at(3)) == 4u);
}

BOOST_AUTO_TEST_CASE(event_id_is_remembered_across_a_restart) {
  auto ev = progress("j1", 10);
  ev.event_id = "e-7";
  publish(ev);
  publish(progress("j1", 20));
  restart_directory();
  BOOST_TEST(std::get<uint64_t>(publish(ev)) == 1u);
  BOOST_TEST(status("j1").last_seq == 2u);
}

BOOST_AUTO_TEST_CASE(finished_job_stays_finished_after_a_restart) {
  publish(progress("j1", 10));
  publish(of_type("j1", event_type::job_complete));
  restart_directory();
  auto late = publish(progress("j1", 20));
  BOOST_REQUIRE(std::holds_alternative<error_code>(late));
  BOOST_TEST(to_string(std::get<error_code>(late)) == "job_finished");
}

BOOST_AUTO_TEST_CASE(a_silent_job_without_a_worker_fails_as_abandoned) {
  // The abandon time is wall-clock (it is stored); 1 ms of it, and the
  // directory's tick (every 15 s of the test clock) looks for it.
  settings.abandon_ms = 1;
  restart_directory();
  auto [conn, frames] = connect();
  command(conn, command_type::subscribe, "followed");
  publish(progress("followed", 10));
  publish(progress("stored", 10));
  publish(progress("attended", 10));
  attach("attended", spawn_worker(sys));
  // "stored" is not in memory when its time comes: the store finds it.
  // Ended as the directory starts (due that soon) or at its first tick;
  // the subscriber gets the end either way.
  restart_directory();
  attach("attended", spawn_worker(sys));
  command(conn, command_type::subscribe, "followed", "", 1);
  pass_directory_look();
  BOOST_TEST(to_string(status("stored").status) == "failed");
  BOOST_TEST(status("stored").message.find("no worker attached")
             != std::string::npos);
  BOOST_TEST(to_string(status("followed").status) == "failed");
  auto failed = std::find_if(frames->begin(), frames->end(), [](auto& f) {
    return type_of(f) == "job_failed";
  });
  BOOST_REQUIRE(failed != frames->end());
  BOOST_TEST(failed->find(R"("code":"abandoned")") != std::string::npos);
  // A worker is attached: silent, but alive.
  pass_directory_look();
  pass_directory_look();
  BOOST_TEST(to_string(status("attended").status) == "running");
  BOOST_TEST(std::get<uint64_t>(publish(progress("attended", 20))) == 2u);
  // Failed once: a later publish is refused, not a second end.
  BOOST_TEST(status("stored").last_seq == 2u);
  auto late = publish(progress("stored", 20));
  BOOST_REQUIRE(std::holds_alternative<error_code>(late));
  BOOST_TEST(to_string(std::get<error_code>(late)) == "job_finished");
}

BOOST_AUTO_TEST_CASE(a_worker_not_back_after_a_restart_is_lost_after_the_grace) {
  // Grace on the test clock; the stored time to look again is wall-clock,
  // within the grace (here 1 ms). Abandoning stays a week away.
  settings.worker_grace = 1ms;
  restart_directory();
  publish(progress("lost", 10));
  publish(progress("back", 10));
  publish(progress("unattended", 10));
  publish(progress("awaited", 10));
  attach("lost", spawn_worker(sys));
  attach("back", spawn_worker(sys));
  // Its worker went and the grace (on the test clock) has not passed when
  // an event is stored and the server stops.
  auto gone = spawn_worker(sys);
  attach("awaited", gone);
  caf::anon_send_exit(gone, caf::exit_reason::kill);
  sched.run();
  publish(progress("awaited", 20));
  restart_directory(); // "lost" waits for a worker from now on
  attach("back", spawn_worker(sys));
  auto [conn, frames] = connect();
  command(conn, command_type::subscribe, "lost");
  BOOST_TEST(to_string(status("lost").status) == "running");
  pass_directory_look(); // and the grace has passed
  BOOST_TEST(to_string(status("lost").status) == "failed");
  BOOST_TEST(to_string(status("awaited").status) == "failed");
  BOOST_REQUIRE(!frames->empty());
  BOOST_TEST(type_of(frames->back()) == "job_failed");
  BOOST_TEST(frames->back().find(R"("code":"worker_lost")")
             != std::string::npos);
  BOOST_TEST(to_string(status("back").status) == "running");
  BOOST_TEST(to_string(status("unattended").status) == "running");
  BOOST_TEST(std::get<uint64_t>(publish(progress("back", 20))) == 2u);
}

BOOST_AUTO_TEST_CASE(a_restart_starts_the_grace_before_the_stored_time) {
  // The stored time to look again is up to two graces (wall-clock) after
  // the last store; the directory looks that far ahead as it starts, so the
  // grace runs from the restart, before any tick.
  settings.worker_grace = 10s;
  restart_directory();
  publish(progress("lost", 10));
  publish(progress("unattended", 10));
  attach("lost", spawn_worker(sys));
  restart_directory();
  sched.advance_time(std::chrono::seconds(9));
  sched.run();
  BOOST_TEST(to_string(status("lost").status) == "running");
  sched.advance_time(std::chrono::seconds(2)); // 11 s: no tick (15 s) yet
  sched.run();
  BOOST_TEST(to_string(status("lost").status) == "failed");
  BOOST_TEST(to_string(status("unattended").status) == "running");
}

BOOST_AUTO_TEST_CASE(a_job_waiting_for_a_worker_stays_in_memory_past_idle) {
  settings.worker_grace = 120s; // longer than the idle time (60 s)
  restart_directory();
  publish(progress("j1", 10));
  auto worker = spawn_worker(sys);
  attach("j1", worker);
  caf::anon_send_exit(worker, caf::exit_reason::kill);
  sched.run();
  // No subscriber, no worker: idle, but the grace timer must still fire.
  sched.advance_time(std::chrono::seconds(91));
  sched.run();
  BOOST_TEST(to_string(status("j1").status) == "running");
  sched.advance_time(std::chrono::seconds(31));
  sched.run();
  BOOST_TEST(to_string(status("j1").status) == "failed");
}

BOOST_AUTO_TEST_CASE(unreadable_records_do_not_hold_up_the_look_for_due_jobs) {
  // More damaged running records than one look takes, all due before a
  // readable job: each is passed over once found, and the job is reached.
  settings.abandon_ms = 1;
  restart_directory();
  constexpr int damaged = 1001;
  {
    lmdb_txn txn{db->env, lmdb_txn::read_write};
    MDB_dbi jobs = 0;
    BOOST_REQUIRE(mdb_dbi_open(txn.get(), "jobs", 0, &jobs) == MDB_SUCCESS);
    for (int i = 0; i < damaged; ++i) {
      job_record rec;
      rec.snapshot.job_id = "damaged" + std::to_string(i);
      rec.snapshot.status = job_status::running;
      rec.snapshot.last_seq = 1;
      rec.expires_at_ms = 1 + i;
      db->store.put_job(txn, rec);
      txn.put(jobs, rec.snapshot.job_id, "not a record");
    }
    txn.commit();
  }
  publish(progress("readable", 10));
  log::init("off"); // a thousand lines of "cannot read job"
  pass_directory_look();
  pass_directory_look();
  log::init("warn");
  BOOST_TEST(to_string(status("readable").status) == "failed");
  // Left as it was, for its owner to look at.
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  MDB_dbi jobs = 0;
  BOOST_REQUIRE(mdb_dbi_open(txn.get(), "jobs", 0, &jobs) == MDB_SUCCESS);
  BOOST_TEST(txn.get(jobs, "damaged0").value_or("") == "not a record");
}

BOOST_AUTO_TEST_CASE(switched_off_no_job_is_abandoned_and_old_times_go) {
  auto abandon_times = [&] {
    lmdb_txn txn{db->env, lmdb_txn::read_only};
    return db->store.running_jobs_due(txn, INT64_MAX, 10);
  };
  // Stored under an earlier setting: the job has a time.
  settings.abandon_ms = 1;
  restart_directory();
  publish(progress("earlier", 10));
  BOOST_TEST((abandon_times() == std::vector<std::string>{"earlier"}));
  settings.abandon_ms = 0;
  restart_directory();
  publish(progress("j1", 10));
  pass_directory_look();
  BOOST_TEST(to_string(status("j1").status) == "running");
  BOOST_TEST(to_string(status("earlier").status) == "running");
  // The due time was handed to its job, which stored none in its place.
  BOOST_TEST(abandon_times().empty());
}

BOOST_AUTO_TEST_CASE(idle_job_leaves_memory_and_comes_back) {
  publish(progress("j1", 10));
  // Nothing follows the job: after job_idle it is stopped...
  sched.advance_time(std::chrono::seconds(61));
  sched.run();
  // ...and a status activates it again from the store.
  BOOST_TEST(status("j1").last_seq == 1u);
  BOOST_TEST(std::get<uint64_t>(publish(progress("j1", 20))) == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
