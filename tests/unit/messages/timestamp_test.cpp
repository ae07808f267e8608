#define BOOST_TEST_MODULE timestamp
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "messages/timestamp.hpp"

using namespace jobwire;

BOOST_AUTO_TEST_CASE(formats_rfc3339_utc_with_milliseconds) {
  BOOST_TEST(format_timestamp(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(format_timestamp(1) == "1970-01-01T00:00:00.001Z");
  BOOST_TEST(format_timestamp(10) == "1970-01-01T00:00:00.010Z");
  BOOST_TEST(format_timestamp(1705314615000) == "2024-01-15T10:30:15.000Z");
  BOOST_TEST(format_timestamp(1705314615123) == "2024-01-15T10:30:15.123Z");
  BOOST_TEST(format_timestamp(1700000000000) == "2023-11-14T22:13:20.000Z");
}

BOOST_AUTO_TEST_CASE(calendar_edges) {
  // Leap days, and the last millisecond of a leap year.
  BOOST_TEST(format_timestamp(1709251199999) == "2024-02-29T23:59:59.999Z");
  BOOST_TEST(format_timestamp(951782400000) == "2000-02-29T00:00:00.000Z");
  BOOST_TEST(format_timestamp(1735689599999) == "2024-12-31T23:59:59.999Z");
  BOOST_TEST(format_timestamp(1735689600000) == "2025-01-01T00:00:00.000Z");
  BOOST_TEST(format_timestamp(253402300799999) == "9999-12-31T23:59:59.999Z");
  BOOST_TEST(format_timestamp(-1) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(now_is_the_system_clock_in_milliseconds) {
  using namespace std::chrono;
  auto before = duration_cast<milliseconds>(
                  system_clock::now().time_since_epoch())
                  .count();
  auto now = unix_now_ms();
  auto after = duration_cast<milliseconds>(
                 system_clock::now().time_since_epoch())
                 .count();
  BOOST_TEST(before <= now);
  BOOST_TEST(now <= after);
  auto text = format_timestamp(now);
  BOOST_TEST(text.size() == 24u);
  BOOST_TEST(text[10] == 'T');
  BOOST_TEST(text.back() == 'Z');
}

BOOST_AUTO_TEST_CASE(parses_what_it_formats) {
  for (int64_t ms : {int64_t{0}, int64_t{1705314615123}, int64_t{1709251199999},
                     int64_t{951782400000}, int64_t{253402300799999}})
    BOOST_TEST(parse_timestamp(format_timestamp(ms)).value_or(-1) == ms);
}

BOOST_AUTO_TEST_CASE(parses_nothing_else) {
  for (auto text : {"", "2024-01-15T10:30:15Z", "2024-01-15T10:30:15.123",
                    "2024-01-15 10:30:15.123Z", "2024-02-30T00:00:00.000Z",
                    "2024-13-01T00:00:00.000Z", "2024-01-15T24:00:00.000Z",
                    "2024-01-15T10:60:00.000Z", "2024-01-15T10:30:60.000Z",
                    "2024-01-15T10:30:15.12xZ", "+024-01-15T10:30:15.123Z"})
    BOOST_TEST(!parse_timestamp(text).has_value(), text);
}
