#define BOOST_TEST_MODULE error_code
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>
#include <utility>

#include "caf/sec.hpp"

#include "messages/error_code.hpp"

using namespace jobwire;

namespace {

struct code_row {
  error_code code;
  std::string_view name;
  unsigned status;
};

const code_row rows[] = {
  {error_code::invalid_json, "invalid_json", 400},
  {error_code::invalid_message, "invalid_message", 400},
  {error_code::unknown_type, "unknown_type", 400},
  {error_code::invalid_job_id, "invalid_job_id", 400},
  {error_code::job_not_found, "job_not_found", 404},
  {error_code::job_finished, "job_finished", 409},
  {error_code::unauthorized, "unauthorized", 401},
  {error_code::rate_limited, "rate_limited", 429},
  {error_code::too_many_subscriptions, "too_many_subscriptions", 429},
  {error_code::message_too_large, "message_too_large", 413},
  {error_code::connection_not_found, "connection_not_found", 404},
  {error_code::storage_full, "storage_full", 507},
  {error_code::internal, "internal", 500},
};

} // namespace

BOOST_AUTO_TEST_CASE(wire_names_and_http_statuses) {
  for (auto& row : rows) {
    BOOST_TEST_CONTEXT("code " << row.name) {
      BOOST_TEST(to_string(row.code) == row.name);
      BOOST_TEST(http_status(row.code) == row.status);
    }
  }
}

BOOST_AUTO_TEST_CASE(errors_carry_code_and_sentence) {
  for (auto& row : rows) {
    BOOST_TEST_CONTEXT("code " << row.name) {
      auto err = caf::make_error(row.code, std::string{"a sentence."});
      BOOST_TEST(static_cast<bool>(err));
      BOOST_TEST(err.category() == caf::atom("jobwire"));
      BOOST_TEST(to_string(to_error_code(err)) == row.name);
      BOOST_TEST(error_message(err) == "a sentence.");
    }
  }
}

BOOST_AUTO_TEST_CASE(errors_without_sentence) {
  auto err = caf::make_error(error_code::job_not_found);
  BOOST_TEST(to_string(to_error_code(err)) == "job_not_found");
  BOOST_TEST(error_message(err) == "");
  // A context that does not start with a string has no sentence.
  err = caf::make_error(error_code::internal, 42, std::string{"x"});
  BOOST_TEST(error_message(err) == "");
}

BOOST_AUTO_TEST_CASE(foreign_errors_are_internal) {
  auto err = caf::make_error(caf::sec::request_timeout);
  BOOST_TEST(to_string(to_error_code(err)) == "internal");
  auto other = caf::error{3, caf::atom("other")};
  BOOST_TEST(to_string(to_error_code(other)) == "internal");
  auto out_of_range = caf::error{200, caf::atom("jobwire")};
  BOOST_TEST(to_string(to_error_code(out_of_range)) == "internal");
}
