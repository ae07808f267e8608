#define BOOST_TEST_MODULE client_address
#include <boost/test/unit_test.hpp>

#include <boost/asio/ip/address.hpp>

#include "net/client_address.hpp"

using jobwire::client_address;
using boost::asio::ip::make_address;

BOOST_AUTO_TEST_CASE(ipv4_counts_by_the_whole_address) {
  BOOST_TEST(client_address(make_address("192.0.2.7")) == "192.0.2.7");
  BOOST_TEST(client_address(make_address("192.0.2.8")) == "192.0.2.8");
}

BOOST_AUTO_TEST_CASE(ipv4_mapped_counts_as_its_ipv4_address) {
  // A dual-stack listener sees IPv4 clients this way.
  BOOST_TEST(client_address(make_address("::ffff:192.0.2.7")) == "192.0.2.7");
}

BOOST_AUTO_TEST_CASE(ipv6_counts_by_its_64_prefix) {
  BOOST_TEST(client_address(make_address("2001:db8:1:2:aaaa::1"))
             == "2001:db8:1:2::/64");
  BOOST_TEST(client_address(make_address("2001:db8:1:2:ffff:1:2:3"))
             == "2001:db8:1:2::/64");
  BOOST_TEST(client_address(make_address("2001:db8:1:3::1"))
             == "2001:db8:1:3::/64");
  BOOST_TEST(client_address(make_address("::1")) == "::/64");
}
