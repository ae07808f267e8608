#define BOOST_TEST_MODULE delivery_actor
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/backoff.hpp"
#include "actors/delivery_actor.hpp"
#include "actors/metrics.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "support/deterministic_config.hpp"
#include "support/stand_in_connection.hpp"

using namespace jobwire;
using namespace std::chrono_literals;

// -- the pure backoff schedule ---------------------------------------------------

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_the_cap) {
  backoff_policy p; // 50 ms, x2, cap 5 s
  std::vector<int64_t> ceilings;
  for (uint32_t attempt = 0; attempt < 10; ++attempt)
    ceilings.push_back(next_delay(p, attempt, 1.0).count());
  BOOST_TEST((ceilings
              == std::vector<int64_t>{50, 100, 200, 400, 800, 1600, 3200, 5000,
                                      5000, 5000}));
}

BOOST_AUTO_TEST_CASE(backoff_has_full_jitter) {
  backoff_policy p;
  BOOST_TEST(next_delay(p, 3, 0.0).count() == 0);
  BOOST_TEST(next_delay(p, 3, 0.5).count() == 200);
  BOOST_TEST(next_delay(p, 60, 0.25).count() == 1250);
}

// -- the delivery actor, with a stand-in session -----------------------------------

namespace {

/// A session stand-in: the test decides how full its queue is.
class fake_sink : public frame_sink {
public:
  std::vector<std::string> sent;
  size_t frames = 0;
  size_t bytes = 0;
  bool is_closing = false;
  uint16_t close_code = 0;

  void send(frame_ptr f) override {
    sent.push_back(f->text);
  }

  void send(frame_batch fs) override {
    for (auto& f : *fs)
      sent.push_back(f->text);
  }

  void close(uint16_t code, std::string) override {
    close_code = code;
    is_closing = true;
  }

  size_t queued_bytes() const override {
    return bytes;
  }

  size_t queued_frames() const override {
    return frames;
  }

  bool closing() const override {
    return is_closing;
  }

  std::vector<followed_job> written() const override {
    return {};
  }

  void acknowledged(
    std::function<void(std::vector<followed_job>)> done) override {
    done({});
  }
};

frame_ptr progress(const std::string& job, uint64_t seq) {
  return make_event_frame(R"({"type":"progress_update","job_id":")" + job
                            + R"(","seq":)" + std::to_string(seq)
                            + R"(,"timestamp":"t"})",
                          job, seq, true);
}

frame_ptr stage(const std::string& job, uint64_t seq) {
  return make_event_frame(R"({"type":"stage_complete","job_id":")" + job
                            + R"(","seq":)" + std::to_string(seq)
                            + R"(,"timestamp":"t"})",
                          job, seq, false);
}

struct fixture {
  test::deterministic_config cfg{"critical"};
  caf::actor_system sys{cfg};
  caf::scheduler::test_coordinator& sched
    = dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler());
  std::shared_ptr<fake_sink> sink = std::make_shared<fake_sink>();
  std::shared_ptr<std::vector<uint64_t>> acks
    = std::make_shared<std::vector<uint64_t>>();
  connection_actor conn = sys.spawn(
    test::stand_in_connection,
    test::on_sent([out = acks](uint64_t n) { out->push_back(n); }));
  delivery_actor delivery;
  uint64_t n = 0;

  fixture() {
    delivery_settings s;
    s.slow_consumer = 10s;
    s.max_queue_frames = 4;
    s.seed = 42;
    delivery = sys.spawn(delivery_impl, s);
    sink->frames = 4; // full
  }

  ~fixture() {
    caf::anon_send_exit(delivery, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(conn, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void park(frame_ptr f) {
    caf::anon_send(delivery, park_atom::value, conn,
                   std::string{"conn_1_0000000000000000"}, sink_ref{sink},
                   std::move(f), ++n);
    sched.run();
  }

  /// Fires every due retry timer until nothing is pending, or `limit`.
  void retry_for(std::chrono::milliseconds total) {
    for (auto t = 0ms; t < total; t += 10ms) {
      sched.advance_time(10ms);
      sched.run();
    }
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(delivery_tests, fixture)

BOOST_AUTO_TEST_CASE(frames_wait_for_room_then_go_in_order) {
  park(progress("a", 1));
  park(stage("b", 1));
  park(progress("a", 2)); // a's newest is a progress_update: replaced
  retry_for(1s);
  BOOST_TEST(sink->sent.empty()); // still full
  sink->frames = 0;
  retry_for(6s); // the backoff grows, but stays under the cap
  BOOST_REQUIRE_EQUAL(sink->sent.size(), 2u);
  BOOST_TEST(sink->sent[0].find(R"("seq":2,"coalesced":1,"timestamp")")
             != std::string::npos, sink->sent[0]);
  BOOST_TEST(sink->sent[1].find("stage_complete") != std::string::npos);
  // The owner learns that all it handed over has gone out.
  BOOST_REQUIRE(!acks->empty());
  BOOST_TEST(acks->back() == n);
}

BOOST_AUTO_TEST_CASE(stage_complete_and_terminal_events_are_never_coalesced) {
  park(progress("a", 1));
  park(stage("a", 2));
  park(progress("a", 3)); // must not replace seq 1: seq 2 stands between
  park(progress("a", 4)); // replaces seq 3
  park(stage("a", 5));
  park(stage("a", 6));
  sink->frames = 0;
  retry_for(6s);
  std::vector<std::string> order;
  for (auto& s : sink->sent) {
    auto at = s.find("\"seq\":");
    order.push_back(s.substr(at + 6, 1));
  }
  BOOST_TEST((order == std::vector<std::string>{"1", "2", "4", "5", "6"}));
  BOOST_TEST(sink->sent[2].find("\"coalesced\":1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_consumer_behind_too_long_is_closed_with_1013) {
  auto failures = metrics::global().delivery_failures.load();
  auto closes = metrics::global().slow_consumer_closes.load();
  park(stage("a", 1));
  park(stage("a", 2));
  retry_for(9s);
  BOOST_TEST(sink->close_code == 0);
  retry_for(7s); // past 10 s, at the next retry
  BOOST_TEST(sink->close_code == 1013);
  BOOST_TEST(sink->sent.empty());
  BOOST_TEST(metrics::global().delivery_failures.load() == failures + 2);
  BOOST_TEST(metrics::global().slow_consumer_closes.load() == closes + 1);
}

BOOST_AUTO_TEST_CASE(a_session_that_went_away_ends_the_retries) {
  auto failures = metrics::global().delivery_failures.load();
  park(stage("a", 1));
  sink.reset(); // the session is gone
  retry_for(1s);
  BOOST_TEST(metrics::global().delivery_failures.load() == failures + 1);
  BOOST_TEST(acks->empty());
}

BOOST_AUTO_TEST_SUITE_END()
