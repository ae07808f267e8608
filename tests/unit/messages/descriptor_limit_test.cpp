#define BOOST_TEST_MODULE descriptor_limit
#include <boost/test/unit_test.hpp>

#include <sys/resource.h>

#include "messages/descriptor_limit.hpp"

using namespace jobwire;

BOOST_AUTO_TEST_CASE(the_soft_limit_is_raised_to_the_hard_one) {
  rlimit lim{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_max == RLIM_INFINITY || lim.rlim_max <= 256) {
    BOOST_TEST_MESSAGE("hard limit " << lim.rlim_max << ": nothing to raise");
    return;
  }
  // As a login shell leaves it.
  rlimit low{256, lim.rlim_max};
  BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
  auto fds = raise_descriptor_limit();
  BOOST_REQUIRE(fds.has_value());
  BOOST_TEST(fds->before == 256u);
  BOOST_TEST(fds->now == lim.rlim_max);
  BOOST_TEST(fds->hard == lim.rlim_max);
  rlimit after{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
  BOOST_TEST(after.rlim_cur == lim.rlim_max);
  // Already there: nothing changes.
  fds = raise_descriptor_limit();
  BOOST_REQUIRE(fds.has_value());
  BOOST_TEST(fds->before == fds->now);
}

BOOST_AUTO_TEST_CASE(clients_get_the_limit_less_a_reserve) {
  BOOST_TEST(client_descriptors(1'048'576) == 1'048'320u);
  BOOST_TEST(client_descriptors(20'000) == 19'744u);
  BOOST_TEST(client_descriptors(1'024) == 768u);
  // A small limit keeps a quarter, so clients still get most of it.
  BOOST_TEST(client_descriptors(256) == 192u);
  BOOST_TEST(client_descriptors(3) == 3u);
}
