#define BOOST_TEST_MODULE json_reader
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

#include <simdjson.h>

#include "messages/json_reader.hpp"

using namespace jobwire;
using namespace std::literals;

namespace {

bool parses(std::string_view text) {
  simdjson::dom::element x;
  return parse_json(text, x) == simdjson::SUCCESS;
}

std::string raw(std::string_view text, std::string_view key) {
  BOOST_REQUIRE(parses(text));
  std::string out = "unset";
  BOOST_REQUIRE(find_raw_object(text, key, out));
  return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(parses_ordinary_json) {
  simdjson::dom::element x;
  BOOST_REQUIRE(parse_json(R"({"a":[1,-2,3.5,"s",true,null]})", x)
                == simdjson::SUCCESS);
  BOOST_TEST(x["a"].at(1).get_int64().value() == -2);
  BOOST_TEST(x["a"].at(2).get_double().value() == 3.5);
  BOOST_REQUIRE(parse_json("18446744073709551615", x) == simdjson::SUCCESS);
  BOOST_TEST(x.get_uint64().value() == 18446744073709551615u);
}

BOOST_AUTO_TEST_CASE(out_of_range_numbers_read_as_empty_arrays) {
  simdjson::dom::element x;
  BOOST_REQUIRE(
    parse_json(R"({"big":12345678901234567890123,"neg":-9223372036854775809,)"
               R"("huge":1e400,"n":7,"s":"12345678901234567890123"})",
               x)
    == simdjson::SUCCESS);
  for (auto key : {"big", "neg", "huge"}) {
    simdjson::dom::array arr;
    BOOST_REQUIRE(x[key].get_array().get(arr) == simdjson::SUCCESS);
    BOOST_TEST(arr.size() == 0u);
  }
  // In-range numbers and strings keep their values.
  BOOST_TEST(x["n"].get_int64().value() == 7);
  BOOST_TEST(x["s"].get_string().value() == "12345678901234567890123");
  BOOST_TEST(parses("[1e400]"));
  BOOST_TEST(parses("12345678901234567890123"));
}

BOOST_AUTO_TEST_CASE(rejects_invalid_json) {
  std::string_view bad[] = {
    "",
    "{",
    "{\"a\":}",
    "[01]",
    "[1.]",
    "[.5]",
    "[-]",
    "[+1]",
    "[1e]",
    "[0x10]",
    "[NaN]",
    "[Infinity]",
    "[1,]",
    "[12345678901234567890123 1]",
    "[12345678901234567890123,]",
    "{12345678901234567890123:1}",
    "[012345678901234567890123]",
    "[1e400x]",
    "{\"a\":1}{}",
    "[\"\xff\"]",
  };
  for (auto text : bad)
    BOOST_TEST(!parses(text), "input: " << text);
}

BOOST_AUTO_TEST_CASE(json_number_grammar) {
  for (auto x : {"0", "-0", "1", "-1", "10", "1.5", "0.5", "-0.0", "1e5",
                 "1E5", "1e+5", "1e-5", "1.50e-3",
                 "12345678901234567890123"})
    BOOST_TEST(is_json_number(x), "number: " << x);
  for (auto x : {"", "-", "+1", "01", "-01", "1.", ".5", "1e", "1e+", "1.e5",
                 "--1", "1-", "1e5e5", "1.5.5", "0x1", " 1", "1 "})
    BOOST_TEST(!is_json_number(x), "number: " << x);
}

BOOST_AUTO_TEST_CASE(finds_raw_objects_minified) {
  BOOST_TEST(raw(R"({ "r" : { "a" : [ 1 , 2.50 ] , "b" : "x  y" } , "z":1})",
                 "r")
             == R"({"a":[1,2.50],"b":"x  y"})");
  BOOST_TEST(raw(R"({"r":{}})", "r") == "{}");
  BOOST_TEST(raw(R"({"r":{"n":12345678901234567890123}})", "r")
             == R"({"n":12345678901234567890123})");
  BOOST_TEST(raw(R"({"r":{"e":"\u00e9\"\\"}})", "r")
             == R"({"e":"\u00e9\"\\"})");
  // The first top-level match wins; keys compare unescaped.
  BOOST_TEST(raw(R"({"x":{"r":{"in":1}},"\u0072":{"a":1},"r":{"b":2}})", "r")
             == R"({"a":1})");
}

BOOST_AUTO_TEST_CASE(missing_or_non_object_members) {
  std::string out = "unchanged";
  BOOST_TEST(!find_raw_object(R"({"a":{}})", "r", out));
  BOOST_TEST(!find_raw_object(R"({"r":[]})", "r", out));
  BOOST_TEST(!find_raw_object(R"({"r":"{}"})", "r", out));
  BOOST_TEST(!find_raw_object(R"({"r":null})", "r", out));
  BOOST_TEST(!find_raw_object(R"([{"r":{}}])", "r", out));
  BOOST_TEST(!find_raw_object("", "r", out));
}

BOOST_AUTO_TEST_CASE(reads_an_events_own_timestamp) {
  // A `timestamp` inside `results` is the publisher's, not the event's.
  BOOST_TEST(event_time_ms(R"({"type":"job_complete","job_id":"j","seq":1,)"
                           R"("results":{"timestamp":"2020-01-01T00:00:00.000Z"},)"
                           R"("timestamp":"2024-01-15T10:30:15.123Z"})")
               .value_or(-1)
             == int64_t{1705314615123});
  BOOST_TEST(!event_time_ms(R"({"type":"job_complete","seq":1})").has_value());
  BOOST_TEST(!event_time_ms(R"({"timestamp":5})").has_value());
  BOOST_TEST(!event_time_ms("not json").has_value());
}
