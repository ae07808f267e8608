#define BOOST_TEST_MODULE pipeline_backoff
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

#include "pipeline/backoff.hpp"

using jobwire::pipeline::backoff_policy;
using jobwire::pipeline::next_delay;
using jobwire::pipeline::next_delay_jittered;
using namespace std::chrono_literals;

// The defaults: 100 ms doubling up to 5 s, 20% jitter.
BOOST_AUTO_TEST_CASE(doubles_from_the_initial_delay_without_jitter) {
  BOOST_TEST(next_delay(0).count() == 100);
  BOOST_TEST(next_delay(1).count() == 200);
  BOOST_TEST(next_delay(2).count() == 400);
  BOOST_TEST(next_delay(5).count() == 3200);
}

BOOST_AUTO_TEST_CASE(is_capped_at_the_maximum) {
  BOOST_TEST(next_delay(6).count() == 5000); // 6400 before the cap
  BOOST_TEST(next_delay(7).count() == 5000);
  // Many attempts neither overflow nor wrap around.
  BOOST_TEST(next_delay(1000).count() == 5000);
  BOOST_TEST(next_delay(std::numeric_limits<unsigned>::max()).count() == 5000);
}

BOOST_AUTO_TEST_CASE(never_decreases_for_a_fixed_draw) {
  for (double u : {0.0, 0.3, 0.5, 1.0}) {
    auto prev = next_delay(0, u);
    for (unsigned attempt = 1; attempt < 40; ++attempt) {
      auto cur = next_delay(attempt, u);
      BOOST_TEST(cur >= prev, "attempt " << attempt << " u " << u);
      prev = cur;
    }
  }
}

BOOST_AUTO_TEST_CASE(jitter_spreads_by_the_fraction) {
  // 20% jitter: 80% for u = 0, 120% for u = 1.
  BOOST_TEST(next_delay(0, 0.0).count() == 80);
  BOOST_TEST(next_delay(0, 1.0).count() == 120);
  BOOST_TEST(next_delay(3, 0.0).count() == 640);
  BOOST_TEST(next_delay(3, 1.0).count() == 960);
  // The cap holds with jitter too: only downwards there.
  BOOST_TEST(next_delay(10, 1.0).count() == 5000);
  BOOST_TEST(next_delay(10, 0.0).count() == 4000);
  // Draws outside [0, 1] are clamped.
  BOOST_TEST(next_delay(0, -3.0).count() == 80);
  BOOST_TEST(next_delay(0, 7.0).count() == 120);
  BOOST_TEST(next_delay(0, std::nan("")).count() == 80);
}

BOOST_AUTO_TEST_CASE(odd_policies_stay_sane) {
  backoff_policy p;
  p.initial = 50ms;
  p.max = 1s;
  p.factor = 3;
  p.jitter = 0;
  BOOST_TEST(next_delay(0, 0.9, p).count() == 50);
  BOOST_TEST(next_delay(2, 0.9, p).count() == 450);
  BOOST_TEST(next_delay(3, 0.9, p).count() == 1000);
  // A factor below 1 (or NaN) counts as 1: constant delays.
  p.factor = 0.5;
  BOOST_TEST(next_delay(9, 0.5, p).count() == 50);
  p.factor = std::nan("");
  BOOST_TEST(next_delay(9, 0.5, p).count() == 50);
  // An initial delay above the cap is capped; a jitter above 1 counts as 1.
  p.initial = 10s;
  p.jitter = 5;
  BOOST_TEST(next_delay(0, 1.0, p).count() == 1000);
  BOOST_TEST(next_delay(0, 0.0, p).count() == 0);
  // Negative durations give zero delays.
  p.initial = -5ms;
  p.max = -1ms;
  BOOST_TEST(next_delay(3, 0.5, p).count() == 0);
}

BOOST_AUTO_TEST_CASE(is_usable_at_compile_time) {
  static_assert(next_delay(0) == 100ms);
  static_assert(next_delay(4, 0.0) == 1280ms);
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(jittered_delays_stay_in_bounds_and_vary) {
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    auto d = next_delay_jittered(2);
    BOOST_TEST(d >= 320ms);
    BOOST_TEST(d <= 480ms);
    seen.insert(d.count());
  }
  // 161 possible values; a constant would mean no jitter at all.
  BOOST_TEST(seen.size() > 50u);
}
