#define BOOST_TEST_MODULE job_api
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/job_api.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "support/deterministic_config.hpp"
#include "support/stand_in_directory.hpp"

using namespace jobwire;
using namespace std::chrono_literals;

namespace {

struct fixture : test::deterministic_system {
  directory_actor directory = sys.spawn(test::stand_in_directory);
  std::optional<job_api> api{std::in_place, sys, directory, 1000ms};
  std::vector<api_response> answers;

  ~fixture() {
    api.reset(); // stops the bridges, which the scheduler must still run
    caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void publish(std::string job_id) {
    job_event ev;
    ev.job_id = std::move(job_id);
    api->publish(0, std::move(ev),
                [this](api_response r) { answers.push_back(std::move(r)); });
    sched.run();
  }

  void advance(std::chrono::milliseconds d) {
    sched.advance_time(d);
    sched.run();
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(job_api_tests, fixture)

BOOST_AUTO_TEST_CASE(an_answered_request_is_answered_once) {
  publish("j1");
  BOOST_REQUIRE_EQUAL(answers.size(), 1u);
  BOOST_TEST(answers[0].status == 202u);
  BOOST_TEST(answers[0].body.find("\"seq\":7") != std::string::npos,
             answers[0].body);
  // Its timeout passes without a second answer.
  advance(1500ms);
  BOOST_TEST(answers.size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_unanswered_request_gets_a_500_at_its_timeout) {
  publish("stuck");
  BOOST_TEST(answers.empty());
  advance(999ms);
  BOOST_TEST(answers.empty());
  advance(1ms);
  BOOST_REQUIRE_EQUAL(answers.size(), 1u);
  BOOST_TEST(answers[0].status == 500u);
  BOOST_TEST(answers[0].body.find("\"code\":\"internal\"") != std::string::npos,
             answers[0].body);
  BOOST_TEST(answers[0].body.find("did not answer in time")
               != std::string::npos,
             answers[0].body);
  // The late answer is dropped: the client has had its 500.
  caf::anon_send(directory, tick_atom::value);
  sched.run();
  BOOST_TEST(answers.size() == 1u);
}

BOOST_AUTO_TEST_CASE(each_request_expires_at_its_own_deadline) {
  publish("stuck"); // t = 0
  advance(400ms);
  publish("stuck"); // t = 400
  publish("j2");    // answered at once, never expires
  BOOST_REQUIRE_EQUAL(answers.size(), 1u);
  BOOST_TEST(answers[0].status == 202u);
  advance(600ms); // t = 1000: the first
  BOOST_REQUIRE_EQUAL(answers.size(), 2u);
  BOOST_TEST(answers[1].status == 500u);
  advance(399ms); // t = 1399
  BOOST_TEST(answers.size() == 2u);
  advance(1ms); // t = 1400: the second
  BOOST_REQUIRE_EQUAL(answers.size(), 3u);
  BOOST_TEST(answers[2].status == 500u);
  // Nothing left waiting: no more timers, no more answers.
  advance(5000ms);
  BOOST_TEST(answers.size() == 3u);
}

BOOST_AUTO_TEST_CASE(an_answer_before_the_timeout_wins) {
  publish("stuck");
  advance(500ms);
  caf::anon_send(directory, tick_atom::value);
  sched.run();
  BOOST_REQUIRE_EQUAL(answers.size(), 1u);
  BOOST_TEST(answers[0].status == 202u);
  BOOST_TEST(answers[0].body.find("\"seq\":9") != std::string::npos,
             answers[0].body);
  advance(1000ms);
  BOOST_TEST(answers.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
