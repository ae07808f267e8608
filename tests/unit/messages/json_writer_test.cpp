#define BOOST_TEST_MODULE json_writer
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "messages/json_writer.hpp"

using namespace jobwire;
using namespace std::literals;

namespace {

std::string escaped(std::string_view x) {
  std::string out;
  append_escaped(out, x);
  return out;
}

std::string number(double x) {
  std::string out;
  append_number(out, x);
  return out;
}

// Reads the string field `s` of a one-field object back with simdjson.
std::string read_back(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  BOOST_REQUIRE(parser.parse(json).get(doc) == simdjson::SUCCESS);
  std::string_view str;
  BOOST_REQUIRE(doc["s"].get_string().get(str) == simdjson::SUCCESS);
  return std::string{str};
}

} // namespace

BOOST_AUTO_TEST_CASE(empty_object) {
  BOOST_TEST(json_writer{}.finish() == "{}");
}

BOOST_AUTO_TEST_CASE(fields_in_insertion_order) {
  std::string str = "std::string";
  auto out = json_writer{}
               .field("s", "text")
               .field("sv", "view"sv)
               .field("str", str)
               .field("u", std::numeric_limits<uint64_t>::max())
               .field("i", std::numeric_limits<int64_t>::min())
               .field("n", -3)
               .field("un", 7u)
               .field("d", 12.5)
               .field("t", true)
               .field("f", false)
               .null_field("z")
               .raw_field("r", R"([1,{"a":2}])")
               .field("s", "again")
               .finish();
  BOOST_TEST(out
             == R"({"s":"text","sv":"view","str":"std::string",)"
                R"("u":18446744073709551615,"i":-9223372036854775808,)"
                R"("n":-3,"un":7,"d":12.5,"t":true,"f":false,"z":null,)"
                R"("r":[1,{"a":2}],"s":"again"})");
}

BOOST_AUTO_TEST_CASE(string_values_are_escaped) {
  BOOST_TEST(json_writer{}.field("k", "say \"hi\"\\\n").finish()
             == R"({"k":"say \"hi\"\\\n"})");
}

BOOST_AUTO_TEST_CASE(numbers_shortest_exact) {
  BOOST_TEST(number(50) == "50");
  BOOST_TEST(number(100) == "100");
  BOOST_TEST(number(0) == "0");
  BOOST_TEST(number(12.5) == "12.5");
  BOOST_TEST(number(2.25) == "2.25");
  BOOST_TEST(number(0.1) == "0.1");
  BOOST_TEST(number(123456.789) == "123456.789");
  BOOST_TEST(number(1.0 / 3) == "0.3333333333333333");
  BOOST_TEST(number(-1.5) == "-1.5");
  BOOST_TEST(number(1e21) == "1e+21");
  BOOST_TEST(number(1e-7) == "1e-07");
  BOOST_TEST(number(5e-324) == "5e-324");
  BOOST_TEST(number(std::numeric_limits<double>::quiet_NaN()) == "null");
  BOOST_TEST(number(std::numeric_limits<double>::infinity()) == "null");
  BOOST_TEST(number(-std::numeric_limits<double>::infinity()) == "null");
  // Appends rather than replaces.
  std::string out = "x=";
  append_number(out, 7);
  BOOST_TEST(out == "x=7");
}

BOOST_AUTO_TEST_CASE(numbers_read_back_exactly) {
  double values[] = {0.1, 1.0 / 3, 12.5, 99.99999999999999,
                     std::numeric_limits<double>::max(),
                     std::numeric_limits<double>::min(),
                     std::numeric_limits<double>::denorm_min()};
  simdjson::dom::parser parser;
  for (auto x : values) {
    auto json = json_writer{}.field("d", x).finish();
    double y = 0;
    BOOST_REQUIRE(parser.parse(json)["d"].get_double().get(y)
                  == simdjson::SUCCESS);
    BOOST_TEST(y == x);
  }
}

BOOST_AUTO_TEST_CASE(quotes_and_backslash) {
  BOOST_TEST(escaped("\"") == R"(\")");
  BOOST_TEST(escaped("\\") == R"(\\)");
  BOOST_TEST(escaped(R"(a"b\c)") == R"(a\"b\\c)");
  // The solidus needs no escape.
  BOOST_TEST(escaped("a/b") == "a/b");
  BOOST_TEST(escaped("") == "");
}

BOOST_AUTO_TEST_CASE(every_control_character) {
  const char* expected[0x20] = {
    R"(\u0000)", R"(\u0001)", R"(\u0002)", R"(\u0003)", R"(\u0004)",
    R"(\u0005)", R"(\u0006)", R"(\u0007)", R"(\b)",     R"(\t)",
    R"(\n)",     R"(\u000b)", R"(\f)",     R"(\r)",     R"(\u000e)",
    R"(\u000f)", R"(\u0010)", R"(\u0011)", R"(\u0012)", R"(\u0013)",
    R"(\u0014)", R"(\u0015)", R"(\u0016)", R"(\u0017)", R"(\u0018)",
    R"(\u0019)", R"(\u001a)", R"(\u001b)", R"(\u001c)", R"(\u001d)",
    R"(\u001e)", R"(\u001f)",
  };
  for (int c = 0; c < 0x20; ++c) {
    BOOST_TEST_CONTEXT("byte " << c) {
      auto in = std::string(1, static_cast<char>(c));
      BOOST_TEST(escaped(in) == expected[c]);
      BOOST_TEST(read_back(json_writer{}.field("s", in).finish()) == in);
    }
  }
  BOOST_TEST(escaped("\x7f") == R"(\u007f)");
  // An embedded NUL does not end the string.
  BOOST_TEST(escaped("a\0b"sv) == R"(a\u0000b)");
}

BOOST_AUTO_TEST_CASE(printable_ascii_passes_through) {
  for (int c = 0x20; c < 0x7f; ++c) {
    if (c == '"' || c == '\\')
      continue;
    auto in = std::string(1, static_cast<char>(c));
    BOOST_TEST(escaped(in) == in);
  }
}

BOOST_AUTO_TEST_CASE(utf8_passes_through) {
  auto text = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"s;
  BOOST_TEST(escaped(text) == text);
  BOOST_TEST(read_back(json_writer{}.field("s", text).finish()) == text);
  // Neighbours of U+2028 are not escaped.
  BOOST_TEST(escaped("\xe2\x80\xa7") == "\xe2\x80\xa7");
  BOOST_TEST(escaped("\xe2\x80\xaa") == "\xe2\x80\xaa");
  BOOST_TEST(escaped("\xe2\x82\xac") == "\xe2\x82\xac");
}

BOOST_AUTO_TEST_CASE(line_and_paragraph_separators_are_escaped) {
  BOOST_TEST(escaped("\xe2\x80\xa8") == R"(\u2028)");
  BOOST_TEST(escaped("\xe2\x80\xa9") == R"(\u2029)");
  BOOST_TEST(escaped("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c")
             == R"(a\u2028b\u2029c)");
  auto text = "x\xe2\x80\xa8y\xe2\x80\xa9z"s;
  BOOST_TEST(read_back(json_writer{}.field("s", text).finish()) == text);
  // A truncated sequence at the end is left alone.
  BOOST_TEST(escaped("a\xe2\x80") == "a\xe2\x80");
}

BOOST_AUTO_TEST_CASE(all_ascii_round_trips) {
  std::string text;
  for (int c = 1; c < 0x80; ++c)
    text += static_cast<char>(c);
  text += "\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80";
  BOOST_TEST(read_back(json_writer{}.field("s", text).finish()) == text);
}

BOOST_AUTO_TEST_CASE(append_escaped_appends) {
  std::string out = "\"";
  append_escaped(out, "a\"");
  BOOST_TEST(out == R"("a\")");
}
