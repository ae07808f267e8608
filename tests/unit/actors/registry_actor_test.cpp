#define BOOST_TEST_MODULE registry_actor
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/metrics.hpp"
#include "actors/registry_actor.hpp"
#include "messages/error_code.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "support/deterministic_config.hpp"
#include "support/stand_in_connection.hpp"
#include "support/temp_dir.hpp"

using namespace jobwire;
using namespace std::chrono_literals;
using test::temp_dir;

namespace {

/// The registry on the deterministic scheduler with a real LMDB store and a
/// clock the test sets.
struct fixture {
  temp_dir dir;
  std::shared_ptr<storage> db;
  std::shared_ptr<std::atomic<int64_t>> now
    = std::make_shared<std::atomic<int64_t>>(1'000'000);
  test::deterministic_config cfg{"critical"};
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  registry_actor registry;

  explicit fixture(size_t map = size_t{8} << 20,
                   size_t max_map = size_t{8} << 20) {
    env_options opts;
    opts.path = dir.path;
    opts.map_size = map;
    opts.max_map_size = max_map;
    opts.durability = durability::nosync;
    std::string error;
    db = open_storage(opts, error);
    BOOST_REQUIRE_MESSAGE(db, error);
    registry_settings settings;
    settings.connection_ttl_ms = 60'000;
    settings.clock = [c = now] { return c->load(); };
    registry = sys.spawn(registry_impl, db, settings);
    sched.run();
  }

  ~fixture() {
    caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
    sched.run();
  }

  size_t last_txnid() const {
    MDB_envinfo info;
    mdb_env_info(db->env.get(), &info);
    return info.me_last_txnid;
  }

  /// Stores `n` events of `job` (seq from..) without running the scheduler;
  /// results land in `out`.
  void store(const std::string& job, uint64_t from, size_t n,
             std::shared_ptr<std::vector<std::string>> out,
             size_t payload = 10) {
    job_record rec;
    rec.snapshot.job_id = job;
    std::vector<stored_event> events;
    for (size_t i = 0; i < n; ++i)
      events.push_back({from + i, std::string(payload, 'x'), ""});
    rec.snapshot.last_seq = from + n - 1;
    sys.spawn([=, this](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, store_atom::value, rec, events)
        .then([out](uint64_t seq) { out->push_back(std::to_string(seq)); },
              [out](caf::error& err) {
                out->push_back(std::string{to_string(to_error_code(err))});
              });
    });
  }

  size_t stored_events(const std::string& job) {
    lmdb_txn txn{db->env, lmdb_txn::read_only};
    size_t n = 0;
    db->store.events_after(txn, job, 0, 1'000'000,
                           [&](uint64_t, std::string_view) { ++n; });
    return n;
  }

  /// The resumed connection's id, or the error code's name; `owner` is
  /// the resuming token's `sub` (empty: access control off).
  std::string resume(const std::string& earlier, const std::string& current,
                     const std::string& owner = {}) {
    std::string out;
    sys.spawn([&](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, resume_atom::value, earlier,
                    current, owner)
        .then([&](connection_record& rec) { out = rec.connection_id; },
              [&](caf::error& err) {
                out = std::string{to_string(to_error_code(err))};
              });
    });
    sched.run();
    return out;
  }

  void put(connection_record rec) {
    caf::anon_send(registry, conn_put_atom::value, std::move(rec));
    sched.run();
  }
};

connection_record closed_conn(std::string id, int64_t last_activity,
                              int64_t ttl) {
  connection_record rec;
  rec.connection_id = std::move(id);
  rec.last_activity_ms = last_activity;
  rec.status = connection_status::closed;
  rec.expires_at_ms = last_activity + ttl;
  rec.jobs.push_back({"job_a", 4});
  return rec;
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(registry_actor_tests, fixture)

BOOST_AUTO_TEST_CASE(writes_that_arrive_together_share_one_commit) {
  auto out = std::make_shared<std::vector<std::string>>();
  auto before = last_txnid();
  for (int j = 0; j < 5; ++j)
    store("job" + std::to_string(j), 1, 3, out);
  sched.run();
  BOOST_TEST(last_txnid() == before + 1);
  BOOST_TEST(out->size() == 5u);
  for (auto& r : *out)
    BOOST_TEST(r == "3");
  // Apart, they commit apart.
  store("job9", 1, 1, out);
  sched.run();
  store("job9", 2, 1, out);
  sched.run();
  BOOST_TEST(last_txnid() == before + 3);
}

BOOST_AUTO_TEST_CASE(each_commit_is_timed_with_its_writes_counted) {
  auto& m = metrics::global();
  auto commits = m.commit.count();
  auto writes = m.commit_writes.load();
  auto out = std::make_shared<std::vector<std::string>>();
  for (int j = 0; j < 3; ++j)
    store("job" + std::to_string(j), 1, 2, out);
  sched.run();
  store("job9", 1, 1, out);
  sched.run();
  BOOST_TEST(m.commit.count() == commits + 2);
  BOOST_TEST(m.commit_writes.load() == writes + 4);
}

BOOST_AUTO_TEST_CASE(reply_comes_only_after_the_commit) {
  auto out = std::make_shared<std::vector<std::string>>();
  store("j", 1, 2, out);
  // Step by step: whenever the reply shows up, the events are committed.
  size_t steps = 0;
  while (out->empty() && sched.try_run_once()) {
    ++steps;
    if (out->empty())
      continue;
    BOOST_TEST(stored_events("j") == 2u);
  }
  BOOST_TEST(steps > 2u); // request, store, flush, reply
  BOOST_REQUIRE_EQUAL(out->size(), 1u);
  BOOST_TEST(out->back() == "2");
}

BOOST_AUTO_TEST_CASE(resume_takes_over_a_closed_record_once) {
  put(closed_conn("conn_1_aaaaaaaaaaaaaaaa", *now, 60'000));
  BOOST_TEST(resume("conn_1_aaaaaaaaaaaaaaaa", "conn_2_bbbbbbbbbbbbbbbb")
             == "conn_1_aaaaaaaaaaaaaaaa");
  // Taken over: a second resume finds nothing.
  BOOST_TEST(resume("conn_1_aaaaaaaaaaaaaaaa", "conn_3_cccccccccccccccc")
             == "connection_not_found");
  BOOST_TEST(resume("conn_9_dddddddddddddddd", "conn_3_cccccccccccccccc")
             == "connection_not_found");
}

BOOST_AUTO_TEST_CASE(expired_record_cannot_be_resumed) {
  put(closed_conn("conn_1_aaaaaaaaaaaaaaaa", *now, 60'000));
  *now += 60'001; // the injected clock, not a sleep
  BOOST_TEST(resume("conn_1_aaaaaaaaaaaaaaaa", "conn_2_bbbbbbbbbbbbbbbb")
             == "connection_not_found");
}

BOOST_AUTO_TEST_CASE(sweeper_removes_expired_records_on_its_timer) {
  put(closed_conn("conn_1_aaaaaaaaaaaaaaaa", *now, 60'000));
  *now += 120'000;
  sched.advance_time(1s); // fires the sweep timer
  sched.run();
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  BOOST_TEST(!db->store.connection(txn, "conn_1_aaaaaaaaaaaaaaaa"));
}

// -- progress records ----------------------------------------------------------

namespace {

connection_record open_conn(std::string id, uint64_t last_sent) {
  connection_record rec;
  rec.connection_id = std::move(id);
  rec.status = connection_status::open;
  rec.jobs.push_back({"job_a", last_sent});
  return rec;
}

} // namespace

BOOST_AUTO_TEST_CASE(progress_records_wait_then_share_one_commit) {
  auto before = last_txnid();
  for (int i = 0; i < 50; ++i) {
    auto id = "conn_" + std::to_string(i) + "_aaaaaaaaaaaaaaaa";
    caf::anon_send(registry, conn_progress_atom::value, open_conn(id, 7));
  }
  sched.run();
  BOOST_TEST(last_txnid() == before); // nothing written yet
  sched.advance_time(1s);
  sched.run();
  BOOST_TEST(last_txnid() == before + 1); // all fifty in one commit
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  for (int i = 0; i < 50; ++i) {
    auto rec = db->store.connection(
      txn, "conn_" + std::to_string(i) + "_aaaaaaaaaaaaaaaa");
    BOOST_REQUIRE(rec);
    BOOST_TEST(rec->jobs.at(0).last_sent == 7u);
  }
  // The job index of an open connection is written with it.
  BOOST_TEST(db->store.followers(txn, "job_a").size() == 50u);
}

BOOST_AUTO_TEST_CASE(newer_progress_replaces_older_before_it_is_written) {
  caf::anon_send(registry, conn_progress_atom::value,
                 open_conn("conn_1_aaaaaaaaaaaaaaaa", 3));
  caf::anon_send(registry, conn_progress_atom::value,
                 open_conn("conn_1_aaaaaaaaaaaaaaaa", 5));
  sched.run();
  sched.advance_time(1s);
  sched.run();
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  auto rec = db->store.connection(txn, "conn_1_aaaaaaaaaaaaaaaa");
  BOOST_REQUIRE(rec);
  BOOST_TEST(rec->jobs.at(0).last_sent == 5u);
}

BOOST_AUTO_TEST_CASE(a_record_written_at_once_is_not_overwritten_by_older_progress) {
  caf::anon_send(registry, conn_progress_atom::value,
                 open_conn("conn_1_aaaaaaaaaaaaaaaa", 3));
  // The close, after the progress: it is the newer record.
  put(closed_conn("conn_1_aaaaaaaaaaaaaaaa", *now, 60'000));
  sched.advance_time(1s);
  sched.run();
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  auto rec = db->store.connection(txn, "conn_1_aaaaaaaaaaaaaaaa");
  BOOST_REQUIRE(rec);
  BOOST_TEST((rec->status == connection_status::closed));
  BOOST_TEST(rec->jobs.at(0).last_sent == 4u);
  BOOST_TEST(db->store.followers(txn, "job_a").empty());
}

BOOST_AUTO_TEST_CASE(only_the_owner_resumes_a_connection) {
  auto owned = [](connection_record rec) {
    rec.owner = "alice";
    return rec;
  };
  // Stored and closed; progress not yet written; open without a record.
  put(owned(closed_conn("conn_1_aaaaaaaaaaaaaaaa", *now, 60'000)));
  put(owned(open_conn("conn_2_bbbbbbbbbbbbbbbb", 2)));
  caf::anon_send(registry, conn_progress_atom::value,
                 owned(open_conn("conn_2_bbbbbbbbbbbbbbbb", 9)));
  auto told = std::make_shared<int>(0);
  auto open = sys.spawn(test::stand_in_connection,
                        test::on_resumed([told] { ++*told; }));
  caf::send_as(open, registry, conn_open_atom::value,
               std::string{"conn_3_cccccccccccccccc"}, std::string{"alice"});
  sched.run();
  // Another subject takes nothing over and closes nothing.
  for (auto id : {"conn_1_aaaaaaaaaaaaaaaa", "conn_2_bbbbbbbbbbbbbbbb",
                  "conn_3_cccccccccccccccc"})
    BOOST_TEST(resume(id, "conn_8_eeeeeeeeeeeeeeee", "mallory")
                 == "unauthorized",
               id);
  BOOST_TEST(*told == 0);
  // The owner still can, the progress not yet written included.
  BOOST_TEST(resume("conn_1_aaaaaaaaaaaaaaaa", "conn_9_ffffffffffffffff",
                    "alice")
             == "conn_1_aaaaaaaaaaaaaaaa");
  auto resumed = [&](std::string earlier,
                     std::shared_ptr<connection_record> got) {
    sys.spawn([=, this](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, resume_atom::value, earlier,
                    std::string{"conn_9_ffffffffffffffff"},
                    std::string{"alice"})
        .then([got](connection_record& rec) { *got = std::move(rec); },
              [](caf::error&) {});
    });
    sched.run();
  };
  auto second = std::make_shared<connection_record>();
  resumed("conn_2_bbbbbbbbbbbbbbbb", second);
  BOOST_REQUIRE_EQUAL(second->jobs.size(), 1u);
  BOOST_TEST(second->jobs[0].last_sent == 9u); // the progress, kept
  // The open one is told to close, and answers.
  auto third = std::make_shared<connection_record>();
  resumed("conn_3_cccccccccccccccc", third);
  BOOST_TEST(*told == 1);
  caf::anon_send(registry, acked_atom::value,
                 std::string{"conn_3_cccccccccccccccc"},
                 std::vector<followed_job>{});
  sched.run();
  BOOST_TEST(third->connection_id == "conn_3_cccccccccccccccc");
}

BOOST_AUTO_TEST_CASE(resume_takes_over_progress_not_yet_written) {
  put(open_conn("conn_1_aaaaaaaaaaaaaaaa", 2));
  caf::anon_send(registry, conn_progress_atom::value,
                 open_conn("conn_1_aaaaaaaaaaaaaaaa", 9));
  sched.run();
  connection_record got;
  sys.spawn([&](caf::event_based_actor* self) {
    self->request(registry, caf::infinite, resume_atom::value,
                  std::string{"conn_1_aaaaaaaaaaaaaaaa"},
                  std::string{"conn_2_bbbbbbbbbbbbbbbb"}, std::string{})
      .then([&](connection_record& rec) { got = std::move(rec); },
            [&](caf::error&) {});
  });
  sched.run();
  BOOST_REQUIRE_EQUAL(got.jobs.size(), 1u);
  BOOST_TEST(got.jobs[0].last_sent == 9u); // not the stored 2
  // Taken over: the progress is not written later either.
  sched.advance_time(1s);
  sched.run();
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  BOOST_TEST(!db->store.connection(txn, "conn_1_aaaaaaaaaaaaaaaa"));
  BOOST_TEST(db->store.followers(txn, "job_a").empty());
}

BOOST_AUTO_TEST_CASE(resume_of_an_open_connection_waits_for_what_its_peer_acknowledged) {
  // A stand-in for the open connection: it only counts the resume_atom.
  auto told = std::make_shared<int>(0);
  auto old = sys.spawn(
    test::stand_in_connection,
    test::on_resumed([told] { ++*told; }));
  auto resume = [&](std::string earlier, connection_record& got) {
    sys.spawn([&, earlier](caf::event_based_actor* self) {
      self->request(registry, caf::infinite, resume_atom::value, earlier,
                    std::string{"conn_9_ffffffffffffffff"}, std::string{})
        .then([&](connection_record& rec) { got = std::move(rec); },
              [&](caf::error&) {});
    });
  };
  for (auto id : {"conn_1_aaaaaaaaaaaaaaaa", "conn_2_bbbbbbbbbbbbbbbb"}) {
    put(open_conn(id, 2));
    caf::send_as(old, registry, conn_open_atom::value, std::string{id},
                 std::string{});
  }
  sched.run();
  // Answered by the session: the acknowledged seq wins over the stored 2.
  connection_record first;
  resume("conn_1_aaaaaaaaaaaaaaaa", first);
  sched.run();
  BOOST_TEST(*told == 1);
  BOOST_TEST(first.jobs.empty(), "answered before the session did");
  caf::anon_send(registry, acked_atom::value,
                 std::string{"conn_1_aaaaaaaaaaaaaaaa"},
                 std::vector<followed_job>{{"job_a", 7}});
  sched.run();
  BOOST_REQUIRE_EQUAL(first.jobs.size(), 1u);
  BOOST_TEST(first.jobs[0].last_sent == 7u);
  // Never answered: after the wait, the stored record as it is.
  connection_record second;
  resume("conn_2_bbbbbbbbbbbbbbbb", second);
  sched.run();
  BOOST_TEST(second.jobs.empty());
  sched.advance_time(3s);
  sched.run();
  BOOST_REQUIRE_EQUAL(second.jobs.size(), 1u);
  BOOST_TEST(second.jobs[0].last_sent == 2u);
  caf::anon_send_exit(old, caf::exit_reason::user_shutdown);
}

BOOST_AUTO_TEST_CASE(progress_is_written_at_shutdown) {
  caf::anon_send(registry, conn_progress_atom::value,
                 open_conn("conn_1_aaaaaaaaaaaaaaaa", 6));
  sched.run();
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  sched.run();
  lmdb_txn txn{db->env, lmdb_txn::read_only};
  auto rec = db->store.connection(txn, "conn_1_aaaaaaaaaaaaaaaa");
  BOOST_REQUIRE(rec);
  BOOST_TEST(rec->jobs.at(0).last_sent == 6u);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

/// A store of 1 MiB that may grow once, to 2 MiB.
struct tiny_fixture : fixture {
  tiny_fixture() : fixture(size_t{1} << 20, size_t{2} << 20) {
    // nop
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(registry_actor_map_full, tiny_fixture)

BOOST_AUTO_TEST_CASE(map_grows_then_publishers_get_storage_full) {
  auto out = std::make_shared<std::vector<std::string>>();
  // ~600 KB: fits in 1 MiB.
  store("a", 1, 75, out, 8000);
  sched.run();
  BOOST_TEST(out->back() == "75");
  // ~600 KB more: needs the growth to 2 MiB.
  store("a", 76, 75, out, 8000);
  sched.run();
  BOOST_TEST(out->back() == "150");
  BOOST_TEST(db->env.map_size() == (size_t{2} << 20));
  // ~1.2 MB more: past the maximum.
  store("a", 151, 150, out, 8000);
  sched.run();
  BOOST_TEST(out->back() == "storage_full");
  // Nothing already stored is lost, and small writes still go through.
  BOOST_TEST(stored_events("a") == 150u);
  store("b", 1, 1, out);
  sched.run();
  BOOST_TEST(out->back() == "1");
}

BOOST_AUTO_TEST_CASE(room_a_sweep_frees_in_a_full_store_takes_the_next_write) {
  // LMDB reuses the pages a commit frees only after one more commit. When
  // the sweep's commit (in the reserve) was the last, every later write
  // was refused, and none committed to move things on: the store stayed
  // full with its expired jobs gone.
  auto out = std::make_shared<std::vector<std::string>>();
  // A finished job of ~800 KB, expiring in a second.
  job_record old;
  old.snapshot.job_id = "old";
  old.snapshot.status = job_status::completed;
  old.snapshot.last_seq = 100;
  old.expires_at_ms = *now + 1000;
  std::vector<stored_event> events;
  for (uint64_t seq = 1; seq <= 100; ++seq)
    events.push_back({seq, std::string(8000, 'o'), ""});
  sys.spawn([=, this](caf::event_based_actor* self) {
    self->request(registry, caf::infinite, store_atom::value, old, events)
      .then([out](uint64_t seq) { out->push_back(std::to_string(seq)); },
            [out](caf::error& err) {
              out->push_back(std::string{to_string(to_error_code(err))});
            });
  });
  sched.run();
  BOOST_REQUIRE_EQUAL(out->back(), "100");
  // Another job fills the rest, to the maximum.
  uint64_t seq = 1;
  for (; seq < 1000; ++seq) {
    store("filler", seq, 1, out, 8000);
    sched.run();
    if (out->back() == "storage_full")
      break;
  }
  BOOST_REQUIRE_EQUAL(out->back(), "storage_full");
  // The old job expires and one sweep commit removes it whole.
  *now += 2000;
  auto before = last_txnid();
  caf::anon_send(registry, sweep_atom::value);
  sched.run();
  {
    lmdb_txn txn{db->env, lmdb_txn::read_only};
    BOOST_REQUIRE(!db->store.job(txn, "old"));
  }
  BOOST_TEST_MESSAGE("commits by the sweep: " << last_txnid() - before);
  // Its room takes the filler's event at once, with no other write first.
  store("filler", seq, 1, out, 8000);
  sched.run();
  BOOST_TEST(out->back() == std::to_string(seq));
}

BOOST_AUTO_TEST_SUITE_END()
