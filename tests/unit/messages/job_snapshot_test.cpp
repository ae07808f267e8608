#define BOOST_TEST_MODULE job_snapshot
#include <boost/test/unit_test.hpp>

#include <string_view>
#include <vector>

#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"

#include "messages/job_snapshot.hpp"

using namespace jobwire;

BOOST_AUTO_TEST_CASE(status_wire_names) {
  BOOST_TEST(to_string(job_status::pending) == "pending");
  BOOST_TEST(to_string(job_status::running) == "running");
  BOOST_TEST(to_string(job_status::completed) == "completed");
  BOOST_TEST(to_string(job_status::failed) == "failed");
  BOOST_TEST(to_string(job_status::cancelled) == "cancelled");
}

BOOST_AUTO_TEST_CASE(defaults_are_the_pending_snapshot) {
  job_snapshot x;
  BOOST_TEST(to_string(x.status) == "pending");
  BOOST_TEST(x.stage == "");
  BOOST_TEST(x.progress == 0.0);
  BOOST_TEST(x.message == "");
  BOOST_TEST(!x.has_eta);
  BOOST_TEST(!x.cancel_requested);
  BOOST_TEST(x.last_seq == 0u);
  BOOST_TEST(x.updated_at_ms == 0);
}

BOOST_AUTO_TEST_CASE(binary_round_trip) {
  job_snapshot x;
  x.job_id = "job_1";
  x.status = job_status::cancelled;
  x.stage = "stage_1";
  x.progress = 99.5;
  x.message = "msg";
  x.has_eta = true;
  x.eta_seconds = 3;
  x.cancel_requested = true;
  x.last_seq = 9;
  x.updated_at_ms = 1705314615123;
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  BOOST_REQUIRE(!sink(x));
  job_snapshot y;
  caf::binary_deserializer source{nullptr, buf};
  BOOST_REQUIRE(!source(y));
  BOOST_TEST(y.job_id == x.job_id);
  BOOST_TEST(to_string(y.status) == "cancelled");
  BOOST_TEST(y.stage == x.stage);
  BOOST_TEST(y.progress == x.progress);
  BOOST_TEST(y.message == x.message);
  BOOST_TEST(y.has_eta == x.has_eta);
  BOOST_TEST(y.eta_seconds == x.eta_seconds);
  BOOST_TEST(y.cancel_requested == x.cancel_requested);
  BOOST_TEST(y.last_seq == x.last_seq);
  BOOST_TEST(y.updated_at_ms == x.updated_at_ms);
}
