#define BOOST_TEST_MODULE websocket_key
#include <boost/test/unit_test.hpp>

#include "net/websocket_key.hpp"

using jobwire::is_valid_websocket_key;

BOOST_AUTO_TEST_CASE(rfc6455_sample_key_is_valid) {
  BOOST_TEST(is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
}

BOOST_AUTO_TEST_CASE(malformed_keys_are_refused) {
  BOOST_TEST(!is_valid_websocket_key(""));
  BOOST_TEST(!is_valid_websocket_key("abc"));
  BOOST_TEST(!is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ="));   // 23 chars
  BOOST_TEST(!is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ==="));  // 25 chars
  BOOST_TEST(!is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZQAA"));  // no padding
  BOOST_TEST(!is_valid_websocket_key("dGhlIHNhbXBs!SBub25jZQ=="));  // bad char
  BOOST_TEST(!is_valid_websocket_key("dGhlIHNhbXBsZSBub25jZR=="));  // stray bits
}
