#define BOOST_TEST_MODULE fanout
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <mutex>
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

// Event `n` of a job with `total` events: progress updates, then one
// stage_complete, then job_complete.
std::string event_body(int n, int total) {
  if (n == total)
    return job_complete_event(R"({"n":)" + std::to_string(n) + "}");
  if (n == total - 1)
    return stage_complete_event("final", R"({"n":)" + std::to_string(n) + "}");
  return progress_event("stage_1", n, "step " + std::to_string(n));
}

// What one connection saw of one job; checks order, gaps, duplicates and
// content as frames come in. Not thread-safe (no Boost.Test calls).
struct job_stream {
  std::string job_id;
  int total;
  int64_t next_seq = 1;
  int received = 0;
  int coalesced = 0;
  std::vector<std::string> errors;

  job_stream(std::string job_id, int total)
    : job_id(std::move(job_id)), total(total) {
    // nop
  }

  bool done() const {
    return next_seq > total;
  }

  void fail(const std::string& what, const json_value& frame) {
    if (errors.size() < 5)
      errors.push_back(what + ": " + frame.dump());
  }

  void on_event(const json_value& frame) {
    ++received;
    auto seq_field = frame.find("seq");
    if (seq_field == nullptr || !seq_field->is_integer()) {
      fail("no integer seq", frame);
      return;
    }
    auto seq = seq_field->as_int();
    auto type = type_of(frame);
    // Only a progress_update may stand for the ones it replaced.
    int64_t skipped = 0;
    if (auto c = frame.find("coalesced")) {
      if (type != "progress_update" || !c->is_integer() || c->as_int() < 1)
        fail("bad coalesced", frame);
      else
        skipped = c->as_int();
    }
    if (seq < next_seq) {
      fail("duplicate or out of order (expected seq " + std::to_string(next_seq)
             + ")",
           frame);
      return;
    }
    if (seq != next_seq + skipped)
      fail("gap (expected seq " + std::to_string(next_seq) + ")", frame);
    coalesced += static_cast<int>(skipped);
    next_seq = seq + 1;
    // The content matches the seq (one publisher per job, in order).
    auto n = static_cast<int>(seq);
    std::string expected_type = n == total       ? "job_complete"
                                : n == total - 1 ? "stage_complete"
                                                 : "progress_update";
    if (type != expected_type)
      fail("expected " + expected_type, frame);
    auto job = frame.find("job_id");
    if (job == nullptr || !job->is_string() || job->as_string() != job_id)
      fail("wrong job_id", frame);
    if (type == "progress_update") {
      auto message = frame.find("message");
      if (message == nullptr || !message->is_string()
          || message->as_string() != "step " + std::to_string(n))
        fail("message does not match seq", frame);
    }
    auto ts = frame.find("timestamp");
    if (ts == nullptr || !ts->is_string() || !is_timestamp(ts->as_string()))
      fail("bad timestamp", frame);
  }
};

// A connection following some jobs.
struct watcher {
  ws_client ws;
  std::string connection_id;
  std::vector<job_stream> jobs;
  std::vector<std::string> errors;

  bool done() const {
    return std::all_of(jobs.begin(), jobs.end(),
                       [](const job_stream& x) { return x.done(); });
  }

  // Handles whatever has arrived; never blocks.
  void drain() {
    ws.poll();
    while (ws.pending() > 0) {
      auto frame = ws.read_frame(0ms);
      if (!frame)
        break;
      json_value x;
      try {
        x = json_value::parse(frame->payload);
      } catch (const std::exception& e) {
        errors.push_back(e.what());
        continue;
      }
      auto job = x.find("job_id");
      auto it
        = job == nullptr || !job->is_string()
            ? jobs.end()
            : std::find_if(jobs.begin(), jobs.end(), [&](const job_stream& s) {
                return s.job_id == job->as_string();
              });
      if (it == jobs.end()) {
        if (errors.size() < 5)
          errors.push_back("frame of no followed job: " + x.dump());
        continue;
      }
      it->on_event(x);
    }
  }
};

// Publishes `total` events to each job, interleaving the jobs, from one
// HTTP keep-alive connection; returns problems found.
std::vector<std::string>
publish_all(uint16_t port, const std::vector<std::string>& jobs, int total) {
  std::vector<std::string> problems;
  http_client http{port};
  for (int n = 1; n <= total; ++n) {
    for (auto& job : jobs) {
      try {
        auto res = http.post(events_path(job), event_body(n, total));
        if (res.status != 202) {
          problems.push_back(job + " event " + std::to_string(n) + ": "
                             + res.to_string());
          continue;
        }
        auto seq = res.json()["seq"].as_int();
        if (seq != n)
          problems.push_back(job + " event " + std::to_string(n) + " got seq "
                             + std::to_string(seq));
      } catch (const std::exception& e) {
        problems.push_back(job + " event " + std::to_string(n) + ": "
                           + e.what());
      }
      if (problems.size() > 10)
        return problems;
    }
  }
  return problems;
}

// Runs publishers on `threads` threads (each owning a share of the jobs)
// while this thread drains the watchers; checks everything in the end.
void run_fanout(uint16_t port, std::vector<watcher>& watchers,
                const std::vector<std::string>& jobs, int total, int threads,
                std::chrono::seconds timeout) {
  std::mutex mtx;
  std::vector<std::string> problems;
  std::vector<std::thread> publishers;
  for (int t = 0; t < threads; ++t) {
    std::vector<std::string> share;
    for (size_t j = t; j < jobs.size(); j += threads)
      share.push_back(jobs[j]);
    publishers.emplace_back([&, share] {
      auto xs = publish_all(port, share, total);
      std::lock_guard guard{mtx};
      problems.insert(problems.end(), xs.begin(), xs.end());
    });
  }
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + timeout;
  bool all_done = false;
  while (!all_done && std::chrono::steady_clock::now() < deadline) {
    all_done = true;
    for (auto& w : watchers) {
      w.drain();
      all_done = all_done && w.done();
    }
    if (!all_done)
      std::this_thread::sleep_for(1ms);
  }
  for (auto& x : publishers)
    x.join();
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
    std::chrono::steady_clock::now() - start);
  BOOST_TEST_MESSAGE("fan-out to " << watchers.size() << " connections took "
                                   << elapsed.count() << " ms");
  for (auto& x : problems)
    BOOST_ERROR("publisher: " << x);
  int coalesced = 0;
  for (size_t i = 0; i < watchers.size(); ++i) {
    auto& w = watchers[i];
    for (auto& e : w.errors)
      BOOST_ERROR("connection " << i << ": " << e);
    for (auto& s : w.jobs) {
      for (auto& e : s.errors)
        BOOST_ERROR("connection " << i << ", " << s.job_id << ": " << e);
      BOOST_TEST(s.done(), "connection " << i << " got " << s.next_seq - 1
                                         << " of " << total << " events of "
                                         << s.job_id << " in time");
      coalesced += s.coalesced;
    }
  }
  if (coalesced > 0)
    BOOST_TEST_MESSAGE(coalesced << " progress updates were coalesced");
  // Nothing more arrives: no duplicates after the last event.
  for (size_t i = 0; i < watchers.size(); ++i) {
    auto extra = ping_barrier(watchers[i].ws);
    BOOST_TEST(extra.empty(),
               "connection " << i << " got more frames: " << describe(extra));
  }
}

struct fixture : server_fixture {
  explicit fixture(std::vector<std::string> args = {})
    : server_fixture(std::move(args)) {
    // nop
  }

  // Subscribes a new watcher to `jobs`.
  watcher make_watcher(const std::vector<std::string>& jobs, int total) {
    watcher w;
    w.ws = open_ws(port(), &w.connection_id);
    for (auto& job : jobs) {
      subscribe(w.ws, job);
      w.jobs.push_back(job_stream{job, total});
    }
    return w;
  }
};

/// Sessions on two io threads: each on a strand of its own (with one
/// thread there are none).
struct two_io_threads : fixture {
  two_io_threads() : fixture({"--io-threads=2"}) {
    // nop
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(fanout, fixture)

BOOST_FIXTURE_TEST_CASE(two_io_threads_deliver_everything_in_order,
                        two_io_threads) {
  constexpr int total = 60;
  std::vector<std::string> jobs;
  for (int j = 0; j < 4; ++j)
    jobs.push_back(unique_job_id("threads"));
  std::vector<watcher> watchers;
  for (int i = 0; i < 40; ++i)
    watchers.push_back(make_watcher({jobs[i % 4]}, total));
  watchers.push_back(make_watcher(jobs, total));
  run_fanout(port(), watchers, jobs, total, 4, 60s);
}

BOOST_AUTO_TEST_CASE(hundred_connections_on_ten_jobs) {
  constexpr int job_count = 10;
  constexpr int per_job = 10;
  constexpr int total = 50;
  std::vector<std::string> jobs;
  for (int j = 0; j < job_count; ++j)
    jobs.push_back(unique_job_id("fan"));
  std::vector<watcher> watchers;
  for (int i = 0; i < job_count * per_job; ++i)
    watchers.push_back(make_watcher({jobs[i % job_count]}, total));
  // The job index lists exactly the ten subscribers of each job.
  http_client http{port()};
  std::vector<std::vector<std::string>> expected(job_count);
  for (int i = 0; i < job_count * per_job; ++i)
    expected[i % job_count].push_back(watchers[i].connection_id);
  for (auto& xs : expected)
    std::sort(xs.begin(), xs.end());
  std::vector<std::vector<std::string>> listed(job_count);
  eventually([&] {
    bool all = true;
    for (int j = 0; j < job_count; ++j) {
      auto res = http.get(job_path(jobs[j]) + "/connections");
      listed[j].clear();
      if (res.status == 200) {
        // Keep the body alive: ranging over a part of a temporary dangles.
        auto body = res.json();
        for (auto& x : body["connections"].as_array())
          listed[j].push_back(x.as_string());
      }
      std::sort(listed[j].begin(), listed[j].end());
      all = all && listed[j] == expected[j];
    }
    return all;
  });
  for (int j = 0; j < job_count; ++j)
    BOOST_TEST(listed[j] == expected[j], jobs[j]
                                           << " lists " << listed[j].size()
                                           << " connections instead of its "
                                           << per_job << " subscribers");
  run_fanout(port(), watchers, jobs, total, 2, 60s);
}

BOOST_AUTO_TEST_CASE(one_connection_on_twenty_jobs) {
  constexpr int total = 30;
  std::vector<std::string> jobs;
  for (int j = 0; j < 20; ++j)
    jobs.push_back(unique_job_id("multi"));
  std::vector<watcher> watchers;
  watchers.push_back(make_watcher(jobs, total));
  watchers.push_back(make_watcher(jobs, total));
  run_fanout(port(), watchers, jobs, total, 4, 60s);
}

BOOST_AUTO_TEST_CASE(fifty_connections_on_one_job) {
  constexpr int total = 100;
  std::vector<std::string> jobs{unique_job_id("hot")};
  std::vector<watcher> watchers;
  for (int i = 0; i < 50; ++i)
    watchers.push_back(make_watcher(jobs, total));
  run_fanout(port(), watchers, jobs, total, 1, 60s);
}

BOOST_AUTO_TEST_CASE(late_subscribers_with_since_seq_miss_nothing) {
  // Subscribers join while events flow, each from since_seq 0: every one
  // must see 1..total exactly once.
  constexpr int total = 60;
  auto job = unique_job_id("late");
  std::vector<std::string> problems;
  std::thread publisher{[&] { problems = publish_all(port(), {job}, total); }};
  std::vector<watcher> watchers;
  for (int i = 0; i < 10; ++i) {
    watcher w;
    w.ws = open_ws(port(), &w.connection_id);
    w.ws.send_text(R"({"type":"subscribe","job_id":)" + q(job)
                   + R"(,"since_seq":0})");
    auto reply = w.ws.read_json();
    check_string(reply, "type", "subscribed");
    w.jobs.push_back(job_stream{job, total});
    watchers.push_back(std::move(w));
  }
  publisher.join();
  for (auto& x : problems)
    BOOST_ERROR("publisher: " << x);
  run_fanout(port(), watchers, {}, total, 0, 30s);
}

BOOST_AUTO_TEST_SUITE_END()
