#define BOOST_TEST_MODULE origin_policy
#include <boost/test/unit_test.hpp>

#include "net/origin_policy.hpp"

using jobwire::origin_policy;

BOOST_AUTO_TEST_CASE(by_default_only_programs_and_the_servers_own_pages) {
  origin_policy p;
  BOOST_TEST(p.allows("", "127.0.0.1:8080")); // no Origin: not a browser
  BOOST_TEST(p.allows("http://127.0.0.1:8080", "127.0.0.1:8080"));
  BOOST_TEST(p.allows("https://Jobs.Example", "jobs.example"));
  BOOST_TEST(!p.allows("https://evil.example", "127.0.0.1:8080"));
  BOOST_TEST(!p.allows("http://127.0.0.1:9999", "127.0.0.1:8080"));
  BOOST_TEST(!p.allows("null", "127.0.0.1:8080"));
  BOOST_TEST(!p.allows("http://127.0.0.1:8080", ""));
}

BOOST_AUTO_TEST_CASE(a_list_is_trimmed_and_compared_without_case) {
  auto p = origin_policy::parse(" https://a.example,https://B.example , ,");
  BOOST_TEST(p.allows("https://a.example", "jobs.example"));
  BOOST_TEST(p.allows("https://b.example", "jobs.example"));
  BOOST_TEST(!p.allows("https://c.example", "jobs.example"));
  BOOST_TEST(!p.allows("https://a.example.evil", "jobs.example"));
  // The server's own pages stay allowed.
  BOOST_TEST(p.allows("http://jobs.example", "jobs.example"));
}

BOOST_AUTO_TEST_CASE(a_star_allows_any_page) {
  auto p = origin_policy::parse("https://a.example, *");
  BOOST_TEST(p.allows("https://evil.example", "127.0.0.1:8080"));
  BOOST_TEST(p.allows("null", "127.0.0.1:8080"));
}

BOOST_AUTO_TEST_CASE(an_entry_is_written_as_browsers_send_origins) {
  // A trailing slash or a default port matched nothing: browsers send
  // neither.
  auto p = origin_policy::parse("https://a.example/, https://b.example:443,"
                                "http://c.example:80, https://d.example:8443");
  BOOST_TEST(p.allows("https://a.example", "jobs.example"));
  BOOST_TEST(p.allows("https://b.example", "jobs.example"));
  BOOST_TEST(p.allows("http://c.example", "jobs.example"));
  BOOST_TEST(p.allows("https://d.example:8443", "jobs.example"));
  BOOST_TEST(!p.allows("https://d.example", "jobs.example"));
}

BOOST_AUTO_TEST_CASE(entries_no_origin_could_match_are_named) {
  BOOST_TEST(origin_policy::check("https://a.example, *, http://b:8080/") == "");
  BOOST_TEST(origin_policy::check("https://a.example,foo")
             == "--allowed-origins entry 'foo' has no scheme (https://...)");
  BOOST_TEST(origin_policy::check("https://a.example/app").find("has a path")
             != std::string::npos);
  BOOST_TEST(origin_policy::check("https://*.example").find("has a wildcard")
             != std::string::npos);
  BOOST_TEST(origin_policy::check("https://").find("has no host")
             != std::string::npos);
  BOOST_TEST(origin_policy::check("null").find("no scheme")
             != std::string::npos);
}
