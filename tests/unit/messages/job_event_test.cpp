#define BOOST_TEST_MODULE job_event
#include <boost/test/unit_test.hpp>

#include <string_view>
#include <vector>

#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"

#include "messages/job_event.hpp"

using namespace jobwire;

namespace {

const std::pair<event_type, std::string_view> names[] = {
  {event_type::progress_update, "progress_update"},
  {event_type::stage_complete, "stage_complete"},
  {event_type::job_complete, "job_complete"},
  {event_type::job_failed, "job_failed"},
  {event_type::job_cancelled, "job_cancelled"},
};

} // namespace

BOOST_AUTO_TEST_CASE(wire_names_both_ways) {
  for (auto& [type, name] : names) {
    BOOST_TEST(to_string(type) == name);
    auto parsed = event_type::job_cancelled;
    if (type == event_type::job_cancelled)
      parsed = event_type::progress_update;
    BOOST_TEST(from_string(name, parsed));
    BOOST_TEST(static_cast<int>(parsed) == static_cast<int>(type));
  }
}

BOOST_AUTO_TEST_CASE(unknown_names_are_refused) {
  for (std::string_view name :
       {"", "progress", "Progress_Update", "job_complete ", "ping"}) {
    auto x = event_type::job_failed;
    BOOST_TEST(!from_string(name, x), "name: " << name);
    BOOST_TEST(static_cast<int>(x) == static_cast<int>(event_type::job_failed));
  }
}

BOOST_AUTO_TEST_CASE(terminal_events) {
  BOOST_TEST(!is_terminal(event_type::progress_update));
  BOOST_TEST(!is_terminal(event_type::stage_complete));
  BOOST_TEST(is_terminal(event_type::job_complete));
  BOOST_TEST(is_terminal(event_type::job_failed));
  BOOST_TEST(is_terminal(event_type::job_cancelled));
}

BOOST_AUTO_TEST_CASE(defaults) {
  job_event x;
  BOOST_TEST(static_cast<int>(x.type)
             == static_cast<int>(event_type::progress_update));
  BOOST_TEST(x.seq == 0u);
  BOOST_TEST(x.timestamp_ms == 0);
  BOOST_TEST(!x.has_eta);
  BOOST_TEST(x.results == "{}");
}

BOOST_AUTO_TEST_CASE(binary_round_trip) {
  job_event x;
  x.type = event_type::job_failed;
  x.job_id = "job_1";
  x.seq = 42;
  x.timestamp_ms = 1705314615123;
  x.stage = "s";
  x.progress = 12.5;
  x.message = "m";
  x.has_eta = true;
  x.eta_seconds = 2.25;
  x.results = R"({"a":1.50})";
  x.error_code = "code";
  x.error_message = "msg";
  x.error_stage = "stage";
  x.reason = "why";
  x.correlation_id = "corr";
  x.event_id = "ev";
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  BOOST_REQUIRE(!sink(x));
  job_event y;
  caf::binary_deserializer source{nullptr, buf};
  BOOST_REQUIRE(!source(y));
  BOOST_TEST(static_cast<int>(y.type) == static_cast<int>(x.type));
  BOOST_TEST(y.job_id == x.job_id);
  BOOST_TEST(y.seq == x.seq);
  BOOST_TEST(y.timestamp_ms == x.timestamp_ms);
  BOOST_TEST(y.stage == x.stage);
  BOOST_TEST(y.progress == x.progress);
  BOOST_TEST(y.message == x.message);
  BOOST_TEST(y.has_eta == x.has_eta);
  BOOST_TEST(y.eta_seconds == x.eta_seconds);
  BOOST_TEST(y.results == x.results);
  BOOST_TEST(y.error_code == x.error_code);
  BOOST_TEST(y.error_message == x.error_message);
  BOOST_TEST(y.error_stage == x.error_stage);
  BOOST_TEST(y.reason == x.reason);
  BOOST_TEST(y.correlation_id == x.correlation_id);
  BOOST_TEST(y.event_id == x.event_id);
}
