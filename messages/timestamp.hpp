#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobwire {

/// Milliseconds since the Unix epoch, from the system clock.
int64_t unix_now_ms();

/// RFC 3339 UTC with milliseconds: `2024-01-15T10:30:15.123Z`.
std::string format_timestamp(int64_t unix_ms);

/// The milliseconds of a timestamp as `format_timestamp` writes it;
/// nothing for any other text.
std::optional<int64_t> parse_timestamp(std::string_view text);

} // namespace jobwire
