#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace jobwire {

/// Longest accepted job id, request id, event id and correlation id.
constexpr size_t max_id_length = 128;

/// Characters (code points) in UTF-8 text `x`: the limits on request,
/// event and correlation ids count characters, not bytes.
size_t utf8_length(std::string_view x);

/// 1 to 128 characters of `[A-Za-z0-9._:-]`.
bool is_valid_job_id(std::string_view x);

/// `conn_{unix_ms}_{16 hex digits from the OS CSPRNG}`.
std::string make_connection_id(int64_t unix_ms);

/// Whether `x` has the shape `make_connection_id` produces.
bool is_valid_connection_id(std::string_view x);

} // namespace jobwire
