#define BOOST_TEST_MODULE read_pacer
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>

#include "net/read_pacer.hpp"

using namespace jobwire;

namespace {

/// Reads allowed at times `from`, `from + step`, ... `count` times.
int reads(read_pacer& p, uint32_t from, uint32_t step, int count, float rate,
          float burst) {
  int n = 0;
  for (int i = 0; i < count; ++i)
    n += p.take(from + static_cast<uint32_t>(i) * step, rate, burst) ? 1 : 0;
  return n;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_burst_then_the_rate) {
  read_pacer p{10, 1000};
  // Ten at once, then nothing more within the same millisecond.
  BOOST_TEST(reads(p, 1000, 0, 50, 100, 10) == 10);
  // 100/s: one every 10 ms, over a second of asking every millisecond.
  BOOST_TEST(reads(p, 1001, 1, 1000, 100, 10) == 100);
}

BOOST_AUTO_TEST_CASE(a_quiet_while_refills_no_more_than_the_burst) {
  read_pacer p{4, 0};
  BOOST_TEST(reads(p, 0, 0, 4, 100, 4) == 4);
  BOOST_TEST(!p.take(1, 100, 4));
  // An hour later: the burst, not an hour's worth.
  BOOST_TEST(reads(p, 3'600'000, 0, 10, 100, 4) == 4);
}

BOOST_AUTO_TEST_CASE(the_clock_may_wrap) {
  constexpr auto top = std::numeric_limits<uint32_t>::max();
  read_pacer p{1, top - 5};
  BOOST_TEST(p.take(top - 5, 100, 1));
  BOOST_TEST(!p.take(top - 4, 100, 1));
  // 10 ms later, across the wrap: one more.
  BOOST_TEST(p.take(top - 5 + 10, 100, 1));
}
