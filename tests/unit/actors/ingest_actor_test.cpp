#define BOOST_TEST_MODULE ingest_actor
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "caf/all.hpp"

#include "actors/ingest_actor.hpp"
#include "messages/error_code.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "support/deterministic_config.hpp"
#include "support/stand_in_directory.hpp"

using namespace jobwire;

namespace {

struct fixture : test::deterministic_system {
  directory_actor directory = sys.spawn(test::stand_in_directory);
  /// At most 2 waiting; events of at most 100 bytes of text.
  ingest_actor ingest = sys.spawn(ingest_impl, directory, size_t{2},
                                  size_t{100});
  /// What each publish got: "seq N" or the error code.
  std::vector<std::string> answers;

  ~fixture() {
    caf::anon_send_exit(ingest, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Publishes without waiting for the answer; `sched.run()` delivers it.
  void publish(std::string job_id, std::string message = "") {
    job_event ev;
    ev.type = event_type::progress_update;
    ev.job_id = std::move(job_id);
    ev.stage = "s";
    ev.progress = 1;
    ev.message = std::move(message);
    sys.spawn([this, ev](caf::event_based_actor* self) {
      self->request(ingest, caf::infinite, publish_atom::value, ev)
        .then(
          [this](const std::string&, uint64_t seq) {
            answers.push_back("seq " + std::to_string(seq));
          },
          [this](caf::error& err) {
            answers.push_back(std::string{to_string(to_error_code(err))});
          });
    });
  }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(ingest_actor_tests, fixture)

BOOST_AUTO_TEST_CASE(publishes_waiting_to_be_stored_are_bounded) {
  publish("stuck");
  publish("stuck");
  sched.run();
  BOOST_TEST(answers.empty());
  // Two wait, the bound: one more is refused at once, whatever its job.
  publish("other");
  sched.run();
  BOOST_TEST(answers == std::vector<std::string>{"rate_limited"});
  // Once they are stored, publishes go through again.
  caf::anon_send(directory, tick_atom::value);
  sched.run();
  publish("other");
  sched.run();
  BOOST_TEST((answers
              == std::vector<std::string>{"rate_limited", "seq 9", "seq 9",
                                          "seq 7"}));
}

BOOST_AUTO_TEST_CASE(a_failed_store_frees_its_place_too) {
  for (int i = 0; i < 3; ++i) {
    publish("broken");
    sched.run();
  }
  publish("stuck");
  publish("stuck");
  publish("other");
  sched.run();
  BOOST_TEST((answers
              == std::vector<std::string>{"storage_full", "storage_full",
                                          "storage_full", "rate_limited"}));
}

BOOST_AUTO_TEST_CASE(an_event_larger_than_the_message_limit_is_refused) {
  // Over HTTP the body limit refuses it (413); over CAF it was stored and
  // sent to every subscriber, whatever its size.
  // 100 bytes with the stage ("s") and the empty results ("{}").
  publish("other", std::string(97, 'm'));
  sched.run();
  publish("other", std::string(98, 'm'));
  sched.run();
  BOOST_TEST((answers
              == std::vector<std::string>{"seq 7", "message_too_large"}));
}

BOOST_AUTO_TEST_SUITE_END()
