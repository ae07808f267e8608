#define BOOST_TEST_MODULE http_route
#include <boost/test/unit_test.hpp>

#include "net/http_route.hpp"

using namespace jobwire;

BOOST_AUTO_TEST_CASE(endpoints_and_methods) {
  auto r = route_target("/v1/jobs/job_1/events");
  BOOST_TEST((r.target == endpoint::job_events));
  BOOST_TEST(r.job_id == "job_1");
  BOOST_TEST(r.method == "POST");
  BOOST_TEST((route_target("/v1/jobs/a.b:c-d").target == endpoint::job));
  BOOST_TEST(route_target("/v1/jobs/x").method == "GET");
  BOOST_TEST((route_target("/v1/jobs/x/cancel").target == endpoint::job_cancel));
  BOOST_TEST((route_target("/v1/jobs/x/connections").target
              == endpoint::job_connections));
  BOOST_TEST((route_target("/v1/ws?token=abc").target == endpoint::websocket));
  BOOST_TEST((route_target("/healthz").target == endpoint::healthz));
  BOOST_TEST((route_target("/").target == endpoint::watch_page));
  BOOST_TEST((route_target("/?job=j1&token=t").target == endpoint::watch_page));
}

BOOST_AUTO_TEST_CASE(unknown_paths) {
  for (auto t : {"", "/index.html", "/v1", "/v1/ws/x", "/v1/jobs/x/nope", "/v1/jobs/x/events/y",
                 "/healthz/", "/V1/ws"})
    BOOST_TEST((route_target(t).target == endpoint::not_found), t);
}

BOOST_AUTO_TEST_CASE(job_id_is_passed_unchecked) {
  // Validation happens in the session, so the error can say invalid_job_id.
  BOOST_TEST(route_target("/v1/jobs/a%20b").job_id == "a b");
  BOOST_TEST(route_target("/v1/jobs//events").job_id.empty());
}

BOOST_AUTO_TEST_CASE(job_id_escapes_are_decoded) {
  // JavaScript's encodeURIComponent writes ':' as %3A.
  BOOST_TEST(route_target("/v1/jobs/job%3A1").job_id == "job:1");
  BOOST_TEST(route_target("/v1/jobs/job%3a1/events").job_id == "job:1");
  BOOST_TEST(route_target("/v1/jobs/j%31").job_id == "j1");
  // An escaped slash is part of the id (which the check then refuses),
  // not a path separator.
  auto slash = route_target("/v1/jobs/a%2Fb/events");
  BOOST_TEST(slash.job_id == "a/b");
  BOOST_TEST((slash.target == endpoint::job_events));
  // What is not an escape stays as it is.
  BOOST_TEST(route_target("/v1/jobs/a%2").job_id == "a%2");
  BOOST_TEST(route_target("/v1/jobs/a%zz").job_id == "a%zz");
  BOOST_TEST(route_target("/v1/jobs/%").job_id == "%");
}
