#define BOOST_TEST_MODULE access
#include <boost/test/unit_test.hpp>

#include <string>

#include "actors/access.hpp"
#include "messages/error_code.hpp"
#include "support/signed_token.hpp"

using namespace jobwire;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef-secret";

/// 2026-11-26 in Unix milliseconds: the verifier's "now".
constexpr int64_t now_ms = 1'795'700'000'000;

/// An HS256 token whose claims are `claims_json` besides jobs and scope.
std::string token(std::string claims_json) {
  claims_json.insert(1, R"("jobs":["job_a"],"scope":"view",)");
  return test::signed_token(claims_json, secret);
}

/// The reason `claims_json` is refused, or "" when it is accepted.
std::string refusal(const std::string& claims_json) {
  token_verifier v{secret};
  auto grant = v.verify(token(claims_json), now_ms);
  return grant ? "" : error_message(grant.error());
}

} // namespace

BOOST_AUTO_TEST_CASE(exp_is_a_numeric_date_with_or_without_a_fraction) {
  token_verifier v{secret};
  auto whole = v.verify(token(R"({"exp":1795700060})"), now_ms);
  BOOST_REQUIRE(static_cast<bool>(whole));
  BOOST_TEST(whole->expires_at_ms == 1'795'700'060'000);
  auto fraction = v.verify(token(R"({"exp":1795700060.5})"), now_ms);
  BOOST_REQUIRE(static_cast<bool>(fraction));
  BOOST_TEST(fraction->expires_at_ms == 1'795'700'060'500);
  BOOST_TEST(refusal(R"({"exp":1795699999})") == "the token has expired");
  BOOST_TEST(refusal("{}") == "the token has no 'exp' claim");
  for (auto bad : {R"({"exp":"1795700060"})", R"({"exp":-5})",
                   R"({"exp":null})", R"({"exp":[1]})"})
    BOOST_TEST(refusal(bad).find("'exp' claim must be a number")
                 != std::string::npos,
               bad << ": " << refusal(bad));
}

BOOST_AUTO_TEST_CASE(a_far_exp_is_capped_rather_than_overflowing) {
  token_verifier v{secret};
  // 2^62 seconds: as milliseconds it passes 64 bits.
  for (auto far : {R"({"exp":4611686018427387904})", R"({"exp":1e300})"}) {
    auto grant = v.verify(token(far), now_ms);
    BOOST_REQUIRE_MESSAGE(static_cast<bool>(grant), far);
    BOOST_TEST(grant->expires_at_ms == 253'402'300'799'000, far);
  }
}

BOOST_AUTO_TEST_CASE(a_token_is_void_before_its_nbf) {
  BOOST_TEST(refusal(R"({"exp":1795703600,"nbf":1795700100})")
             == "the token is not valid yet (its 'nbf' is in the future)");
  BOOST_TEST(refusal(R"({"exp":1795703600,"nbf":1795700000})") == "");
  BOOST_TEST(refusal(R"({"exp":1795703600,"nbf":"soon"})").find("'nbf'")
             != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_token_with_critical_extensions_is_void) {
  // RFC 7515, 4.1.11: extensions listed in `crit` must be understood, and
  // jobwire understands none; such a token was taken as if plain.
  auto with_crit = test::signed_token(
    R"({"jobs":["job_a"],"scope":"view","exp":1795703600})", secret,
    R"({"crit":["x-extension"],"x-extension":1})");
  token_verifier v{secret};
  auto grant = v.verify(with_crit, now_ms);
  BOOST_REQUIRE(!grant);
  BOOST_TEST(error_message(grant.error()).find("'crit'") != std::string::npos,
             error_message(grant.error()));
  BOOST_TEST(static_cast<bool>(
    v.verify(token(R"({"exp":1795703600})"), now_ms)));
}

BOOST_AUTO_TEST_CASE(sub_and_scope_must_be_strings) {
  // RFC 7519 makes both strings. A numeric `sub` was taken as no subject,
  // so audit lines named no one; a `scope` list was "no 'scope' claim".
  token_verifier v{secret};
  auto named = v.verify(token(R"({"exp":1795703600,"sub":"alice"})"), now_ms);
  BOOST_REQUIRE(static_cast<bool>(named));
  BOOST_TEST(named->subject == "alice");
  for (auto bad : {R"({"exp":1795703600,"sub":42})",
                   R"({"exp":1795703600,"sub":null})",
                   R"({"exp":1795703600,"sub":["alice"]})"})
    BOOST_TEST(refusal(bad) == "the token's 'sub' claim must be a string",
               bad);
  auto scope_list = test::signed_token(
    R"({"jobs":["job_a"],"scope":["view"],"exp":1795703600})", secret);
  auto grant = v.verify(scope_list, now_ms);
  BOOST_REQUIRE(!grant);
  BOOST_TEST(error_message(grant.error())
             == "the token's 'scope' claim must be a string");
}
