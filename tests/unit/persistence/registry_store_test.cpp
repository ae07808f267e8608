#define BOOST_TEST_MODULE registry_store
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include "persistence/record_codec.hpp"
#include "persistence/storage.hpp"
#include "support/temp_dir.hpp"

#include <sys/wait.h>
#include <unistd.h>

using namespace jobwire;
using test::temp_dir;

namespace {

struct fixture {
  temp_dir dir;
  std::shared_ptr<storage> db = open(dir.path);

  static std::shared_ptr<storage> open(const std::string& path,
                                       size_t map = size_t{8} << 20,
                                       size_t max_map = size_t{8} << 20) {
    env_options opts;
    opts.path = path;
    opts.map_size = map;
    opts.max_map_size = max_map;
    std::string error;
    auto x = open_storage(opts, error);
    BOOST_REQUIRE_MESSAGE(x != nullptr, error);
    return x;
  }

  template <class F>
  void write(F&& f) {
    lmdb_txn txn{db->env, lmdb_txn::read_write};
    f(txn);
    txn.commit();
  }

  template <class F>
  auto read(F&& f) {
    lmdb_txn txn{db->env, lmdb_txn::read_only};
    return f(txn);
  }

  static job_record job(std::string id, uint64_t last_seq,
                        int64_t expires = 0) {
    job_record rec;
    rec.snapshot.job_id = std::move(id);
    rec.snapshot.status = expires ? job_status::completed : job_status::running;
    rec.snapshot.last_seq = last_seq;
    rec.expires_at_ms = expires;
    return rec;
  }

  static connection_record conn(std::string id, std::vector<std::string> jobs,
                                bool open = true, int64_t expires = 0) {
    connection_record rec;
    rec.connection_id = std::move(id);
    rec.status = open ? connection_status::open : connection_status::closed;
    rec.expires_at_ms = expires;
    for (auto& j : jobs)
      rec.jobs.push_back({j, 0});
    return rec;
  }

  std::vector<std::string> followers(const std::string& job_id) {
    return read([&](lmdb_txn& t) { return db->store.followers(t, job_id); });
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(registry_store_tests, fixture)

BOOST_AUTO_TEST_CASE(jobs_round_trip) {
  auto rec = job("j1", 7);
  rec.snapshot.stage = "stage \"1\"";
  rec.snapshot.progress = 42.5;
  rec.snapshot.cancel_requested = true;
  write([&](lmdb_txn& t) { db->store.put_job(t, rec); });
  auto back = read([&](lmdb_txn& t) { return db->store.job(t, "j1"); });
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->snapshot.last_seq == 7u);
  BOOST_TEST(back->snapshot.stage == "stage \"1\"");
  BOOST_TEST(back->snapshot.progress == 42.5);
  BOOST_TEST(back->snapshot.cancel_requested);
  BOOST_TEST(!read([&](lmdb_txn& t) { return db->store.job(t, "j2"); }));
}

BOOST_AUTO_TEST_CASE(events_in_seq_order_per_job) {
  write([&](lmdb_txn& t) {
    // Seq 256 sorts after 3 only with big-endian keys.
    for (uint64_t seq : {1, 2, 256, 3})
      db->store.put_event(t, "j1", seq, "e" + std::to_string(seq), "");
    db->store.put_event(t, "j10", 1, "other", "");
    db->store.put_event(t, "j", 1, "other", "");
  });
  auto after = [&](uint64_t from, size_t limit,
                   size_t max_bytes = SIZE_MAX) {
    std::vector<std::string> out;
    read([&](lmdb_txn& t) {
      db->store.events_after(
        t, "j1", from, limit,
        [&](uint64_t s, std::string_view json) {
          out.push_back(std::to_string(s) + ":" + std::string{json});
        },
        max_bytes);
      return 0;
    });
    return out;
  };
  BOOST_TEST((after(1, 100)
              == std::vector<std::string>{"2:e2", "3:e3", "256:e256"}));
  BOOST_TEST((after(0, 2) == std::vector<std::string>{"1:e1", "2:e2"}));
  BOOST_TEST(after(256, 100).empty());
  // A byte budget (a replay's step) ends the scan once reached: "e1" and
  // "e2" are 4 bytes; at least one event comes however small the budget.
  BOOST_TEST((after(0, 100, 4) == std::vector<std::string>{"1:e1", "2:e2"}));
  BOOST_TEST((after(0, 100, 1) == std::vector<std::string>{"1:e1"}));
}

BOOST_AUTO_TEST_CASE(a_seq_is_never_overwritten) {
  write([&](lmdb_txn& t) { db->store.put_event(t, "j1", 1, "first", ""); });
  BOOST_CHECK_THROW(write([&](lmdb_txn& t) {
                      db->store.put_event(t, "j1", 1, "second", "");
                    }),
                    lmdb_error);
}

BOOST_AUTO_TEST_CASE(event_ids_map_to_their_seq) {
  write([&](lmdb_txn& t) { db->store.put_event(t, "j1", 5, "{}", "ev-a"); });
  auto seq = read(
    [&](lmdb_txn& t) { return db->store.event_seq(t, "j1", "ev-a"); });
  BOOST_TEST(seq.value() == 5u);
  BOOST_TEST(!read(
    [&](lmdb_txn& t) { return db->store.event_seq(t, "j2", "ev-a"); }));
}

BOOST_AUTO_TEST_CASE(job_index_follows_open_connections_only) {
  write([&](lmdb_txn& t) {
    db->store.put_connection(t, conn("c1", {"a", "b"}));
    db->store.put_connection(t, conn("c2", {"a"}));
  });
  BOOST_TEST((followers("a") == std::vector<std::string>{"c1", "c2"}));
  BOOST_TEST((followers("b") == std::vector<std::string>{"c1"}));
  // c1 leaves b; c2 closes (its record stays, its index entries go).
  write([&](lmdb_txn& t) {
    db->store.put_connection(t, conn("c1", {"a"}));
    db->store.put_connection(t, conn("c2", {"a"}, false, 5000));
  });
  BOOST_TEST((followers("a") == std::vector<std::string>{"c1"}));
  BOOST_TEST(followers("b").empty());
  auto c2 = read([&](lmdb_txn& t) { return db->store.connection(t, "c2"); });
  BOOST_REQUIRE(c2.has_value());
  BOOST_TEST(c2->jobs.size() == 1u);
}

BOOST_AUTO_TEST_CASE(sweep_removes_what_expired_with_what_it_owns) {
  write([&](lmdb_txn& t) {
    db->store.put_job(t, job("old", 2, 1000));
    db->store.put_event(t, "old", 1, "{}", "x");
    db->store.put_event(t, "old", 2, "{}", "");
    db->store.put_job(t, job("young", 1, 9000));
    db->store.put_job(t, job("running", 1, 0));
    db->store.put_connection(t, conn("c-old", {"old"}, false, 2000));
    db->store.put_connection(t, conn("c-open", {"old"}));
  });
  // The clock is an argument: nothing sleeps.
  size_t removed = 0;
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 2000, 100); });
  BOOST_TEST(removed == 2u);
  read([&](lmdb_txn& t) {
    BOOST_TEST(!db->store.job(t, "old"));
    BOOST_TEST(!db->store.event_seq(t, "old", "x"));
    size_t events = 0;
    db->store.events_after(t, "old", 0, 100,
                           [&](uint64_t, std::string_view) { ++events; });
    BOOST_TEST(events == 0u);
    BOOST_TEST(db->store.job(t, "young").has_value());
    BOOST_TEST(db->store.job(t, "running").has_value());
    BOOST_TEST(!db->store.connection(t, "c-old"));
    BOOST_TEST(db->store.connection(t, "c-open").has_value());
    return 0;
  });
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 1'000'000, 100); });
  BOOST_TEST(removed == 1u); // young; running jobs and open connections stay
}

BOOST_AUTO_TEST_CASE(stored_counts_jobs_events_and_connections) {
  auto stored = [&] {
    return read([&](lmdb_txn& t) { return db->store.stored(t); });
  };
  BOOST_TEST(stored().jobs == 0u);
  write([&](lmdb_txn& t) {
    db->store.put_job(t, job("a", 2, 1000));
    db->store.put_event(t, "a", 1, "{}", "x");
    db->store.put_event(t, "a", 2, "{}", "");
    db->store.put_job(t, job("b", 1));
    db->store.put_event(t, "b", 1, "{}", "");
    db->store.put_connection(t, conn("c", {"a", "b"}));
  });
  auto n = stored();
  BOOST_TEST(n.jobs == 2u);
  BOOST_TEST(n.events == 3u);
  BOOST_TEST(n.connections == 1u);
  // A job that expired leaves with its events.
  write([&](lmdb_txn& t) { db->store.sweep(t, 1000, 100); });
  n = stored();
  BOOST_TEST(n.jobs == 1u);
  BOOST_TEST(n.events == 1u);
  BOOST_TEST(n.connections == 1u);
}

BOOST_AUTO_TEST_CASE(sweep_works_in_bounded_batches) {
  write([&](lmdb_txn& t) {
    for (int i = 0; i < 25; ++i)
      db->store.put_job(t, job("j" + std::to_string(i), 1, 100 + i));
  });
  std::vector<size_t> batches;
  for (size_t n = 1; n > 0;) {
    write([&](lmdb_txn& t) { n = db->store.sweep(t, 1000, 10); });
    batches.push_back(n);
  }
  BOOST_TEST((batches == std::vector<size_t>{10, 10, 5, 0}));
}

BOOST_AUTO_TEST_CASE(expiry_moves_when_a_record_changes) {
  write([&](lmdb_txn& t) {
    db->store.put_connection(t, conn("c1", {}, false, 1000));
    // Resumed and closed again later: the old expiry must not remove it.
    db->store.put_connection(t, conn("c1", {}, false, 5000));
  });
  size_t removed = 0;
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 2000, 100); });
  BOOST_TEST(removed == 0u);
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 5000, 100); });
  BOOST_TEST(removed == 1u);
}

BOOST_AUTO_TEST_CASE(a_running_job_past_its_time_is_reported_not_removed) {
  auto running = [](std::string id, int64_t abandon_at) {
    auto rec = job(std::move(id), 1);
    rec.expires_at_ms = abandon_at;
    return rec;
  };
  write([&](lmdb_txn& t) {
    db->store.put_job(t, running("quiet", 1000));
    db->store.put_event(t, "quiet", 1, "{}", "");
    db->store.put_job(t, running("later", 9000));
    db->store.put_job(t, job("done", 1, 1500));
  });
  auto due = [&](int64_t now) {
    return read(
      [&](lmdb_txn& t) { return db->store.running_jobs_due(t, now, 10); });
  };
  BOOST_TEST(due(999).empty());
  BOOST_TEST((due(2000) == std::vector<std::string>{"quiet"}));
  size_t removed = 0;
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 2000, 100); });
  BOOST_TEST(removed == 1u); // "done" only
  read([&](lmdb_txn& t) {
    BOOST_TEST(db->store.job(t, "quiet").has_value());
    size_t events = 0;
    db->store.events_after(t, "quiet", 0, 10,
                           [&](uint64_t, std::string_view) { ++events; });
    BOOST_TEST(events == 1u);
    return 0;
  });
  // Its job actor ends it: the entry becomes the finished job's expiry.
  write([&](lmdb_txn& t) { db->store.put_job(t, job("quiet", 2, 5000)); });
  BOOST_TEST(due(2000).empty());
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 4999, 100); });
  BOOST_TEST(removed == 0u);
  write([&](lmdb_txn& t) { removed = db->store.sweep(t, 5000, 100); });
  BOOST_TEST(removed == 1u);
  read([&](lmdb_txn& t) {
    BOOST_TEST(!db->store.job(t, "quiet"));
    return 0;
  });
  // A new time replaces the old entry; a limit bounds the answer.
  write([&](lmdb_txn& t) {
    db->store.put_job(t, running("later", 20000));
    for (int i = 0; i < 5; ++i)
      db->store.put_job(t, running("r" + std::to_string(i), 100 + i));
  });
  BOOST_TEST(due(19999).size() == 5u);
  BOOST_TEST((read([&](lmdb_txn& t) {
                return db->store.running_jobs_due(t, 1e6, 2);
              }) == std::vector<std::string>{"r0", "r1"}));
  // Jobs the caller passes over take no places.
  std::unordered_set<std::string> skip{"r0", "r2"};
  BOOST_TEST((read([&](lmdb_txn& t) {
                return db->store.running_jobs_due(t, 1e6, 2, skip);
              }) == std::vector<std::string>{"r1", "r3"}));
}

BOOST_AUTO_TEST_CASE(a_look_for_due_running_jobs_reads_a_bounded_part_of_the_index) {
  auto running = job("quiet", 1);
  running.expires_at_ms = 500;
  write([&](lmdb_txn& t) {
    for (int i = 0; i < 40; ++i)
      db->store.put_job(t, job("done" + std::to_string(i), 1, 100 + i));
    db->store.put_job(t, running);
  });
  auto abandoned = [&](size_t limit) {
    return read(
      [&](lmdb_txn& t) { return db->store.running_jobs_due(t, 1000, limit); });
  };
  // 40 expired records ahead of it: a look at 16 entries does not reach it.
  BOOST_TEST(abandoned(1).empty());
  BOOST_TEST((abandoned(3) == std::vector<std::string>{"quiet"}));
  write([&](lmdb_txn& t) { db->store.sweep(t, 1000, 100); });
  BOOST_TEST((abandoned(1) == std::vector<std::string>{"quiet"}));
}

BOOST_AUTO_TEST_CASE(a_cancel_reason_is_kept_and_older_records_still_read) {
  auto rec = job("cancelling", 3);
  rec.snapshot.cancel_requested = true;
  rec.cancel_reason = "user asked";
  write([&](lmdb_txn& t) { db->store.put_job(t, rec); });
  auto back = read([&](lmdb_txn& t) { return db->store.job(t, "cancelling"); });
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->cancel_reason == "user asked");
  // Records written before there was a reason, and before workers were
  // recorded, as those versions wrote them.
  auto older = job("old", 5);
  older.snapshot.cancel_requested = true;
  older.expires_at_ms = 1234;
  older.cancel_reason = "kept in the three-field layout";
  older.worker_expected = true;
  write([&](lmdb_txn& t) {
    MDB_dbi jobs = 0;
    BOOST_REQUIRE(mdb_dbi_open(t.get(), "jobs", 0, &jobs) == MDB_SUCCESS);
    job_record_layout two{older, 2};
    t.put(jobs, "two-fields", encode_record(two));
    job_record_layout three{older, 3};
    t.put(jobs, "three-fields", encode_record(three));
  });
  for (std::string id : {"two-fields", "three-fields"}) {
    BOOST_TEST_CONTEXT(id) {
      auto old = read([&](lmdb_txn& t) { return db->store.job(t, id); });
      BOOST_REQUIRE(old.has_value());
      BOOST_TEST(old->snapshot.last_seq == 5u);
      BOOST_TEST(old->snapshot.cancel_requested);
      BOOST_TEST(old->expires_at_ms == 1234);
      BOOST_TEST(old->cancel_reason
                 == (id == "two-fields" ? "" : older.cancel_reason));
      BOOST_TEST(!old->worker_expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(a_connection_owner_is_kept_and_older_records_still_read) {
  auto rec = conn("owned", {"a"}, false, 5000);
  rec.owner = "alice";
  write([&](lmdb_txn& t) { db->store.put_connection(t, rec); });
  auto back = read([&](lmdb_txn& t) { return db->store.connection(t, "owned"); });
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->owner == "alice");
  // A record written before owners were, as that version wrote it.
  auto older = conn("older", {"a", "b"}, false, 7000);
  older.owner = "not in the six-field layout";
  write([&](lmdb_txn& t) {
    MDB_dbi conns = 0;
    BOOST_REQUIRE(mdb_dbi_open(t.get(), "connections", 0, &conns)
                  == MDB_SUCCESS);
    connection_record_layout six{older, 6};
    t.put(conns, "older", encode_record(six));
  });
  auto old = read([&](lmdb_txn& t) { return db->store.connection(t, "older"); });
  BOOST_REQUIRE(old.has_value());
  BOOST_TEST(old->jobs.size() == 2u);
  BOOST_TEST(old->expires_at_ms == 7000);
  BOOST_TEST(old->owner == "");
}

BOOST_AUTO_TEST_CASE(records_with_infinite_numbers_or_extra_bytes_are_damaged) {
  // CAF 0.17 never finishes writing an infinite double: such a record must
  // be refused when read, and never be written.
  auto rec = job("odd", 2);
  rec.snapshot.has_eta = true;
  rec.snapshot.eta_seconds = 12345.0;
  auto bytes = encode_record(rec);
  // The ETA's bits, big-endian as CAF writes them, made +infinity.
  const std::string eta_bits{"\x40\xc8\x1c\x80\0\0\0\0", 8};
  auto at = bytes.find(eta_bits);
  BOOST_REQUIRE(at != std::string::npos);
  auto infinite = bytes;
  infinite.replace(at, 8, std::string{"\x7f\xf0\0\0\0\0\0\0", 8});
  auto longer = bytes + "x";
  write([&](lmdb_txn& t) {
    MDB_dbi jobs = 0;
    BOOST_REQUIRE(mdb_dbi_open(t.get(), "jobs", 0, &jobs) == MDB_SUCCESS);
    t.put(jobs, "infinite", infinite);
    t.put(jobs, "longer", longer);
    t.put(jobs, "exact", bytes);
  });
  for (std::string id : {"infinite", "longer"}) {
    BOOST_TEST_CONTEXT(id) {
      read([&](lmdb_txn& t) {
        BOOST_CHECK_THROW(db->store.job(t, id), std::runtime_error);
        return 0;
      });
    }
  }
  auto exact = read([&](lmdb_txn& t) { return db->store.job(t, "exact"); });
  BOOST_REQUIRE(exact.has_value());
  BOOST_TEST(exact->snapshot.eta_seconds == 12345.0);
  rec.snapshot.eta_seconds = std::numeric_limits<double>::infinity();
  write([&](lmdb_txn& t) {
    BOOST_CHECK_THROW(db->store.put_job(t, rec), std::invalid_argument);
  });
}

BOOST_AUTO_TEST_CASE(whether_a_worker_is_expected_is_kept) {
  auto rec = job("attended", 3);
  rec.worker_expected = true;
  write([&](lmdb_txn& t) { db->store.put_job(t, rec); });
  auto back = read([&](lmdb_txn& t) { return db->store.job(t, "attended"); });
  BOOST_REQUIRE(back.has_value());
  BOOST_TEST(back->worker_expected);
}

BOOST_AUTO_TEST_CASE(running_jobs_of_an_older_store_get_a_due_abandon_time_once) {
  // As a version before abandon times left it: running jobs without a
  // time, and no mark that they were given one.
  auto timed = job("timed", 1);
  timed.expires_at_ms = 9000;
  write([&](lmdb_txn& t) {
    db->store.put_job(t, job("silent", 1));
    db->store.put_job(t, timed);
    db->store.put_job(t, job("done", 2, 50));
    MDB_dbi meta = 0;
    BOOST_REQUIRE(mdb_dbi_open(t.get(), "meta", 0, &meta) == MDB_SUCCESS);
    BOOST_REQUIRE(t.del(meta, "abandon-times"));
  });
  auto abandoned = [&] {
    return read([&](lmdb_txn& t) { return db->store.running_jobs_due(t, 100, 10); });
  };
  BOOST_TEST(abandoned().empty());
  db.reset();
  db = open(dir.path);
  // Due at once: its job actor decides. The others keep what they had.
  BOOST_TEST((abandoned() == std::vector<std::string>{"silent"}));
  read([&](lmdb_txn& t) {
    BOOST_TEST(db->store.job(t, "timed")->expires_at_ms == 9000);
    BOOST_TEST(db->store.job(t, "done")->expires_at_ms == 50);
    return 0;
  });
  // Once: a time cleared since (abandoning switched off) is not given back.
  write([&](lmdb_txn& t) { db->store.put_job(t, job("silent", 1)); });
  db.reset();
  db = open(dir.path);
  BOOST_TEST(abandoned().empty());
}

BOOST_AUTO_TEST_CASE(open_connections_are_closed_after_a_crash) {
  auto rec = conn("c1", {"a"});
  rec.last_activity_ms = 500;
  write([&](lmdb_txn& t) { db->store.put_connection(t, rec); });
  write([&](lmdb_txn& t) {
    BOOST_TEST(db->store.close_open_connections(t, 1000, 60) == 1u);
  });
  auto back = read([&](lmdb_txn& t) { return db->store.connection(t, "c1"); });
  BOOST_TEST((back->status == connection_status::closed));
  BOOST_TEST(back->expires_at_ms == 1060);
  BOOST_TEST(followers("a").empty());
}

BOOST_AUTO_TEST_CASE(map_grows_then_reports_full) {
  temp_dir small;
  // 1 MiB that may grow to 2 MiB, then no further.
  auto tiny = open(small.path, size_t{1} << 20, size_t{2} << 20);
  std::string big(8000, 'x');
  auto fill = [&](int from, int n) {
    lmdb_txn txn{tiny->env, lmdb_txn::read_write};
    for (int i = from; i < from + n; ++i)
      tiny->store.put_event(txn, "j", i, big, "");
    txn.commit();
  };
  fill(1, 50); // ~400 KB fits
  bool full = false;
  try {
    fill(51, 100); // ~800 KB more does not
  } catch (const lmdb_error& e) {
    full = e.map_full();
  }
  BOOST_TEST(full);
  BOOST_TEST(tiny->env.grow());
  fill(51, 100);
  BOOST_TEST(tiny->env.map_size() == (size_t{2} << 20));
  BOOST_TEST(!tiny->env.grow()); // at the maximum
  bool full_again = false;
  try {
    fill(151, 200);
  } catch (const lmdb_error& e) {
    full_again = e.map_full();
  }
  BOOST_TEST(full_again);
  // What was stored before is all there.
  size_t n = 0;
  lmdb_txn txn{tiny->env, lmdb_txn::read_only};
  tiny->store.events_after(txn, "j", 0, 1000,
                           [&](uint64_t, std::string_view) { ++n; });
  BOOST_TEST(n == 150u);
}

BOOST_AUTO_TEST_CASE(freed_pages_count_as_free_not_as_less_used) {
  temp_dir d;
  env_options opts;
  opts.path = d.path;
  lmdb_env env{opts};
  MDB_dbi dbi;
  auto each = [&](auto&& f) {
    lmdb_txn txn{env, lmdb_txn::read_write};
    check(mdb_dbi_open(txn.get(), nullptr, 0, &dbi), "mdb_dbi_open");
    for (int i = 0; i < 200; ++i)
      f(txn, "k" + std::to_string(i));
    txn.commit();
  };
  std::string big(8000, 'x');
  each([&](lmdb_txn& t, const std::string& k) { t.put(dbi, k, big); });
  BOOST_TEST(env.free_bytes() < size_t{64} << 10);
  auto used = env.used_bytes();
  BOOST_TEST(used >= 200 * big.size());
  each([&](lmdb_txn& t, const std::string& k) { BOOST_TEST(t.del(dbi, k)); });
  BOOST_TEST(env.free_bytes() >= 200 * big.size());
  // The high-water mark stays: LMDB never shrinks its file.
  BOOST_TEST(env.used_bytes() >= used);
}

BOOST_AUTO_TEST_CASE(a_store_this_user_may_not_write_names_the_file) {
  // LMDB said only "Permission denied". Root may write anything, so the
  // open runs in a child as nobody then.
  temp_dir d;
  env_options opts;
  opts.path = d.path;
  { lmdb_env first{opts}; }
  namespace fs = std::filesystem;
  fs::permissions(d.path, fs::perms::all);
  fs::permissions(d.path + "/lock.mdb",
                  fs::perms::owner_read | fs::perms::owner_write
                    | fs::perms::group_read | fs::perms::group_write
                    | fs::perms::others_read | fs::perms::others_write);
  fs::permissions(d.path + "/data.mdb", fs::perms::owner_read
                                          | fs::perms::group_read
                                          | fs::perms::others_read);
  int out[2];
  BOOST_REQUIRE(::pipe(out) == 0);
  auto child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    ::close(out[0]);
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0))
      ::_exit(2);
    std::string error;
    auto db = open_storage(opts, error);
    auto said = db ? std::string{"opened"} : error;
    auto n = ::write(out[1], said.data(), said.size());
    ::_exit(n == static_cast<ssize_t>(said.size()) ? 0 : 3);
  }
  ::close(out[1]);
  std::string said;
  char buf[512];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;)
    said.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "child status "
                                                                << status);
  BOOST_TEST(said.find(d.path + "/data.mdb") != std::string::npos, said);
  BOOST_TEST(said.find("may not read and write it") != std::string::npos,
             said);
}

BOOST_AUTO_TEST_CASE(foreign_or_damaged_directories_are_refused) {
  std::string error;
  env_options opts;
  // A file where the directory should be.
  temp_dir d;
  opts.path = d.path + "/file";
  std::ofstream{opts.path} << "hello";
  BOOST_TEST(!open_storage(opts, error));
  BOOST_TEST(error.find("not a directory") != std::string::npos, error);
  // A data.mdb that is not LMDB.
  temp_dir junk;
  std::ofstream{junk.path + "/data.mdb"} << std::string(10000, 'z');
  opts.path = junk.path;
  BOOST_TEST(!open_storage(opts, error));
  BOOST_TEST(error.find("cannot open the data directory") != std::string::npos,
             error);
  // An LMDB environment that is someone else's.
  temp_dir other;
  {
    env_options foreign;
    foreign.path = other.path;
    lmdb_env env{foreign};
    lmdb_txn txn{env, lmdb_txn::read_write};
    MDB_dbi dbi;
    check(mdb_dbi_open(txn.get(), nullptr, 0, &dbi), "mdb_dbi_open");
    txn.put(dbi, "k1", "v1");
    txn.put(dbi, "k2", "v2");
    txn.commit();
  }
  opts.path = other.path;
  BOOST_TEST(!open_storage(opts, error));
  BOOST_TEST(error.find("not jobwire's") != std::string::npos, error);
}

BOOST_AUTO_TEST_SUITE_END()
