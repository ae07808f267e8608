#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caf/expected.hpp"

#include "messages/log.hpp"

namespace jobwire {

/// What a token lets its bearer do (PROTOCOL.md, "Access").
enum class scope : uint8_t { view = 1, cancel = 2, publish = 4 };

std::string_view to_string(scope x);

/// The verified claims of one token.
struct access_grant {
  std::string subject;
  /// Unix milliseconds; the token is void from then on.
  int64_t expires_at_ms = 0;
  /// Job ids, or prefixes ending in `*`.
  std::vector<std::string> jobs;
  /// A bit set of `scope`s.
  uint8_t scopes = 0;

  /// Whether the grant covers `what` on `job_id`.
  bool allows(scope what, std::string_view job_id) const;
};

/// Checks HS256 tokens against the configured secret with libjwt. Thread
/// safe: io threads and actors share one.
class token_verifier {
public:
  explicit token_verifier(std::string secret);

  /// The grant of `token`, or `unauthorized` with the reason: bad
  /// signature, an algorithm other than HS256 (`none` among them), expired
  /// or missing `exp`, an `nbf` still to come, missing `jobs` or `scope`.
  caf::expected<access_grant> verify(std::string_view token,
                                     int64_t now_ms) const;

private:
  std::string secret_;
};

/// Null when access control is off (no `--auth-secret-file`).
using verifier_ptr = std::shared_ptr<const token_verifier>;

/// Counts a refusal of `scope` to `subject` (`jobwire_access_denied_total`)
/// and logs it: at most one line a second, with the number of refusals held
/// back since the last line, so that a client repeating a refused request
/// cannot fill the disk with log lines. `about` names what was refused (a
/// job, a connection, an origin); `connection_id` is empty over HTTP.
/// Thread-safe: io threads and connection actors share it.
void audit_denial(std::string_view connection_id, std::string_view subject,
                  std::string_view scope, log::field about,
                  std::string_view reason);

} // namespace jobwire
