#include "actors/access.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include <jwt.h>
#include <simdjson.h>

#include "actors/metrics.hpp"
#include "messages/error_code.hpp"
#include "messages/log_throttle.hpp"

namespace jobwire {

namespace {

caf::error denied(std::string why) {
  return caf::make_error(error_code::unauthorized, std::move(why));
}

struct jwt_deleter {
  void operator()(jwt_t* x) const {
    jwt_free(x);
  }
};

struct str_deleter {
  void operator()(char* x) const {
    std::free(x);
  }
};

/// The latest time a token may name: the end of year 9999, so that its
/// milliseconds fit in 64 bits whatever a token says.
constexpr double latest_seconds = 253402300799.0;

/// A NumericDate claim (seconds since the epoch, RFC 7519: a JSON number,
/// a fraction allowed) in Unix milliseconds, capped at `latest_seconds`.
/// Nothing when the claim is absent; an error naming it when it is not a
/// non-negative number.
caf::expected<std::optional<int64_t>> numeric_date(jwt_t* jwt,
                                                   const char* name) {
  std::unique_ptr<char, str_deleter> text{jwt_get_grants_json(jwt, name)};
  if (!text)
    return std::optional<int64_t>{};
  simdjson::dom::parser parser;
  double seconds = 0;
  if (parser.parse(text.get(), std::strlen(text.get())).get_double().get(seconds)
      || !(seconds >= 0))
    return denied("the token's '" + std::string{name}
                  + "' claim must be a number of seconds since 1970");
  seconds = std::min(seconds, latest_seconds);
  return std::optional<int64_t>{static_cast<int64_t>(seconds * 1000)};
}

/// A claim RFC 7519 makes a string (`sub`, `scope`): nothing when it is
/// absent, an error naming it when it is there as another JSON type. A
/// numeric `sub` was read as none, and a `scope` list as "no 'scope' claim".
caf::expected<std::optional<std::string>> string_claim(jwt_t* jwt,
                                                       const char* name) {
  if (auto text = jwt_get_grant(jwt, name))
    return std::optional<std::string>{text};
  std::unique_ptr<char, str_deleter> json{jwt_get_grants_json(jwt, name)};
  if (!json)
    return std::optional<std::string>{};
  return denied("the token's '" + std::string{name}
                + "' claim must be a string");
}

} // namespace

std::string_view to_string(scope x) {
  switch (x) {
    case scope::view:
      return "view";
    case scope::cancel:
      return "cancel";
    case scope::publish:
      return "publish";
  }
  return "view";
}

bool access_grant::allows(scope what, std::string_view job_id) const {
  if ((scopes & static_cast<uint8_t>(what)) == 0)
    return false;
  for (auto& pattern : jobs) {
    if (!pattern.empty() && pattern.back() == '*') {
      if (job_id.starts_with(std::string_view{pattern}.substr(
            0, pattern.size() - 1)))
        return true;
    } else if (pattern == job_id) {
      return true;
    }
  }
  return false;
}

token_verifier::token_verifier(std::string secret)
  : secret_(std::move(secret)) {
  // nop
}

caf::expected<access_grant> token_verifier::verify(std::string_view token,
                                                   int64_t now_ms) const {
  if (token.empty())
    return denied("a token is required");
  std::string text{token};
  jwt_t* raw = nullptr;
  if (jwt_decode(&raw, text.c_str(),
                 reinterpret_cast<const unsigned char*>(secret_.data()),
                 static_cast<int>(secret_.size()))
      != 0)
    return denied("the token is malformed or its signature is wrong");
  std::unique_ptr<jwt_t, jwt_deleter> jwt{raw};
  // Only HS256: never `none`, never a key confusion.
  if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256)
    return denied("the token must be signed with HS256");
  // RFC 7515, 4.1.11: a token whose critical extensions the verifier does
  // not understand is invalid; jobwire understands none.
  if (std::unique_ptr<char, str_deleter> crit{
        jwt_get_headers_json(jwt.get(), "crit")};
      crit)
    return denied("the token has a 'crit' header: jobwire knows no "
                  "extensions");
  access_grant out;
  auto sub = string_claim(jwt.get(), "sub");
  if (!sub)
    return std::move(sub.error());
  if (*sub)
    out.subject = std::move(**sub);
  auto exp = numeric_date(jwt.get(), "exp");
  if (!exp)
    return std::move(exp.error());
  if (!*exp)
    return denied("the token has no 'exp' claim");
  out.expires_at_ms = **exp;
  if (out.expires_at_ms <= now_ms)
    return denied("the token has expired");
  auto nbf = numeric_date(jwt.get(), "nbf");
  if (!nbf)
    return std::move(nbf.error());
  if (*nbf && **nbf > now_ms)
    return denied("the token is not valid yet (its 'nbf' is in the future)");
  auto scopes = string_claim(jwt.get(), "scope");
  if (!scopes)
    return std::move(scopes.error());
  if (!*scopes)
    return denied("the token has no 'scope' claim");
  std::string_view rest{**scopes};
  while (!rest.empty()) {
    auto sp = rest.find(' ');
    auto word = rest.substr(0, sp);
    if (word == "view")
      out.scopes |= static_cast<uint8_t>(scope::view);
    else if (word == "cancel")
      out.scopes |= static_cast<uint8_t>(scope::cancel);
    else if (word == "publish")
      out.scopes |= static_cast<uint8_t>(scope::publish);
    rest = sp == std::string_view::npos ? std::string_view{}
                                        : rest.substr(sp + 1);
  }
  std::unique_ptr<char, str_deleter> jobs{
    jwt_get_grants_json(jwt.get(), "jobs")};
  if (!jobs)
    return denied("the token has no 'jobs' claim");
  simdjson::dom::parser parser;
  simdjson::dom::array list;
  if (parser.parse(jobs.get(), std::strlen(jobs.get())).get_array().get(list))
    return denied("the token's 'jobs' claim must be a list of job ids");
  for (auto x : list) {
    std::string_view id;
    if (x.get_string().get(id))
      return denied("the token's 'jobs' claim must be a list of job ids");
    out.jobs.emplace_back(id);
  }
  return out;
}

void audit_denial(std::string_view connection_id, std::string_view subject,
                  std::string_view scope, log::field about,
                  std::string_view reason) {
  ++metrics::global().access_denied;
  static log::throttle throttle{std::chrono::seconds{1}};
  auto held_back = throttle.admit();
  if (!held_back)
    return;
  auto held = std::to_string(*held_back);
  log::warn("access denied", {{"connection_id", connection_id},
                              {"subject", subject},
                              {"scope", scope},
                              about,
                              {"reason", reason},
                              {"held_back", held}});
}

} // namespace jobwire
