#define BOOST_TEST_MODULE event_log
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <vector>

#include "persistence/event_log.hpp"

using namespace jobwire;

BOOST_AUTO_TEST_CASE(replays_after_a_seq_in_order) {
  event_log log;
  for (uint64_t i = 1; i <= 4; ++i)
    log.append(i, make_frame("e" + std::to_string(i)));
  BOOST_TEST(log.last_seq() == 4u);
  std::vector<std::string> seen;
  log.for_each_after(2, [&](uint64_t seq, const frame_ptr& f) {
    seen.push_back(std::to_string(seq) + *f);
  });
  BOOST_TEST((seen == std::vector<std::string>{"3e3", "4e4"}));
  seen.clear();
  log.for_each_after(9, [&](uint64_t, const frame_ptr& f) { seen.push_back(*f); });
  BOOST_TEST(seen.empty());
}

BOOST_AUTO_TEST_CASE(refuses_gaps_and_reuse) {
  event_log log;
  log.append(1, make_frame("a"));
  BOOST_CHECK_THROW(log.append(1, make_frame("b")), std::logic_error);
  BOOST_CHECK_THROW(log.append(3, make_frame("c")), std::logic_error);
}
