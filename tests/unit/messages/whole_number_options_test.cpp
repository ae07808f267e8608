#define BOOST_TEST_MODULE whole_number_options
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "caf/config_option_adder.hpp"
#include "caf/config_option_set.hpp"

#include "messages/whole_number_options.hpp"

using namespace jobwire;

namespace {

struct options {
  uint64_t big = 0;
  uint16_t port = 0;
  std::string name;
  caf::config_option_set set;

  options() {
    caf::config_option_adder{set, "global"}
      .add(big, "big", "a uint64")
      .add(port, "port", "a uint16")
      .add(name, "name", "a string");
  }

  std::string check(std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    return check_whole_number_options(set, static_cast<int>(argv.size()),
                                      argv.data());
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(numbers_in_range_pass) {
  options o;
  BOOST_TEST(o.check({"--big=0", "--port=65535", "--big=9223372036854775807"})
             == "");
}

BOOST_AUTO_TEST_CASE(a_number_caf_would_misread_is_named) {
  options o;
  BOOST_TEST(o.check({"--port=80", "--big=9223372036854775808"})
             == "--big=9223372036854775808 is out of range: it must be at "
                "most 9223372036854775807");
  BOOST_TEST(o.check({"--big=99999999999999999999999"})
             == "--big=99999999999999999999999 is out of range: it must be "
                "at most 9223372036854775807");
  BOOST_TEST(o.check({"--port=65536"})
             == "--port=65536 is out of range: it must be at most 65535");
}

BOOST_AUTO_TEST_CASE(what_is_not_a_whole_number_is_named) {
  options o;
  for (auto bad : {"--big=-1", "--big=", "--big=12abc", "--big=0x10",
                   "--port= 80", "--big=1.5"})
    BOOST_TEST(o.check({bad}) == std::string{bad}
                                   + " is not a whole number (digits only)");
}

BOOST_AUTO_TEST_CASE(other_arguments_are_left_to_caf) {
  options o;
  // Strings, unknown options, flags and positional arguments.
  BOOST_TEST(o.check({"--name=-1", "--unknown=x", "--port", "run", "-p=7"})
             == "");
}
