#define BOOST_TEST_MODULE request_framing
#include <boost/test/unit_test.hpp>

#include <string_view>
#include <vector>

#include "net/request_framing.hpp"

using namespace jobwire;

namespace {

std::optional<framing_refusal> check(std::vector<std::string_view> codings,
                                     bool content_length = false) {
  return check_request_framing(codings, content_length);
}

unsigned status(std::vector<std::string_view> codings,
                bool content_length = false) {
  auto r = check(std::move(codings), content_length);
  return r ? r->status : 0;
}

} // namespace

BOOST_AUTO_TEST_CASE(none_or_chunked_alone_is_framed) {
  BOOST_TEST(!check({}));
  BOOST_TEST(!check({}, true));
  BOOST_TEST(!check({"chunked"}));
  BOOST_TEST(!check({"  CHUNKED\t"}));
  BOOST_TEST(!check({"chunked,"})); // empty list members are ignored
}

BOOST_AUTO_TEST_CASE(a_list_not_ending_in_chunked_has_no_known_end) {
  BOOST_TEST(status({"gzip"}) == 400u);
  BOOST_TEST(status({"chunked, gzip"}) == 400u);
  BOOST_TEST(status({"chunked", "gzip"}) == 400u);
  BOOST_TEST(status({""}) == 400u);
  BOOST_TEST(status({" , "}) == 400u);
  BOOST_TEST(status({"chunked;ext=1"}) == 400u);
}

BOOST_AUTO_TEST_CASE(chunked_twice_is_malformed) {
  BOOST_TEST(status({"chunked, chunked"}) == 400u);
  BOOST_TEST(status({"chunked", "Chunked"}) == 400u);
}

BOOST_AUTO_TEST_CASE(another_coding_under_chunked_is_not_implemented) {
  auto r = check({"gzip, chunked"});
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST(r->status == 501u);
  BOOST_TEST(r->message.find("'gzip'") != std::string::npos, r->message);
  BOOST_TEST(status({"gzip", "chunked"}) == 501u);
  BOOST_TEST(status({"identity, chunked"}) == 501u);
  // A name that is no token is not echoed.
  auto odd = check({"g\"zip, chunked"});
  BOOST_TEST_REQUIRE(odd.has_value());
  BOOST_TEST(odd->message.find('"') == std::string::npos, odd->message);
}

BOOST_AUTO_TEST_CASE(transfer_encoding_beside_content_length_is_refused) {
  BOOST_TEST(status({"chunked"}, true) == 400u);
  BOOST_TEST(status({"gzip, chunked"}, true) == 400u);
}
