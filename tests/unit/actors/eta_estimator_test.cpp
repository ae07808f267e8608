#define BOOST_TEST_MODULE eta_estimator
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "actors/eta_estimator.hpp"

using jobwire::eta_estimator;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_CASE(needs_two_points) {
  eta_estimator e;
  eta_estimator::time_point t0{};
  BOOST_TEST(!e.update("s", 10, t0).has_value());
  auto eta = e.update("s", 20, t0 + 5s); // 10 points per 5 s, 80 left
  BOOST_REQUIRE(eta.has_value());
  BOOST_TEST(*eta == 40.0);
  // The rate is measured from the stage's first point.
  eta = e.update("s", 60, t0 + 15s); // 50 points in 15 s, 40 left: 12 s
  BOOST_TEST(*eta == 12.0);
}

BOOST_AUTO_TEST_CASE(a_crawl_has_no_estimate_rather_than_an_infinite_one) {
  eta_estimator e;
  eta_estimator::time_point t0{};
  e.update("s", 0, t0);
  // 100 / 5e-324 overflows: no estimate (an infinite one hangs CAF 0.17's
  // serialiser).
  BOOST_TEST(!e.update("s", 5e-324, t0 + 1s).has_value());
  auto eta = e.update("s", 50, t0 + 2s);
  BOOST_REQUIRE(eta.has_value());
  BOOST_TEST(*eta == 2.0);
}

BOOST_AUTO_TEST_CASE(stalls_and_resets) {
  eta_estimator e;
  eta_estimator::time_point t0{};
  e.update("s", 10, t0);
  BOOST_TEST(!e.update("s", 10, t0 + 1s).has_value()); // no progress
  BOOST_TEST(!e.update("s", 5, t0 + 2s).has_value());  // went back: restart
  BOOST_TEST(e.update("s", 15, t0 + 3s).has_value());
  BOOST_TEST(!e.update("t", 50, t0 + 4s).has_value()); // new stage: restart
  BOOST_TEST(*e.update("t", 100, t0 + 9s) == 0.0);
}

BOOST_AUTO_TEST_CASE(a_step_back_below_the_last_point_restarts) {
  // 10 then 100 then 50: not "40 points gained since 10" (an ETA of 0 s
  // for a job half done), but a new start at 50.
  eta_estimator e;
  eta_estimator::time_point t0{};
  e.update("s", 10, t0);
  BOOST_TEST(*e.update("s", 100, t0 + 1s) == 0.0);
  BOOST_TEST(!e.update("s", 50, t0 + 2s).has_value());
  BOOST_TEST(*e.update("s", 60, t0 + 4s) == 8.0); // 10 points per 2 s, 40 left
}
