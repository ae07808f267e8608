#define BOOST_TEST_MODULE log_throttle
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <thread>
#include <vector>

#include "messages/log_throttle.hpp"

using namespace std::chrono_literals;
using jobwire::log::throttle;

namespace {

const throttle::clock_type::time_point t0{};

/// What `admit` returned, printable: -1 for a line held back.
int64_t admitted(std::optional<uint64_t> x) {
  return x ? static_cast<int64_t>(*x) : -1;
}

} // namespace

BOOST_AUTO_TEST_CASE(one_line_per_period_with_the_count_held_back) {
  throttle x{10s};
  BOOST_TEST(admitted(x.admit(t0)) == 0);
  BOOST_TEST(admitted(x.admit(t0 + 1s)) == -1);
  BOOST_TEST(admitted(x.admit(t0 + 9999ms)) == -1);
  BOOST_TEST(admitted(x.admit(t0 + 5s)) == -1);
  // The period runs from the line written, not from the ones held back.
  BOOST_TEST(admitted(x.admit(t0 + 10s)) == 3);
  BOOST_TEST(admitted(x.admit(t0 + 19s)) == -1);
  BOOST_TEST(admitted(x.admit(t0 + 25s)) == 1);
  // After a quiet spell the next line goes through at once.
  BOOST_TEST(admitted(x.admit(t0 + 100s)) == 0);
}

BOOST_AUTO_TEST_CASE(threads_share_it_without_losing_a_count) {
  throttle x{1h};
  BOOST_REQUIRE(admitted(x.admit(t0)) == 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&x] {
      for (int k = 0; k < 10'000; ++k)
        x.admit(t0 + 1s);
    });
  for (auto& t : threads)
    t.join();
  BOOST_TEST(admitted(x.admit(t0 + 2h)) == 40'000);
}
