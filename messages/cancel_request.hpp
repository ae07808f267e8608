#pragma once

#include <string>
#include <string_view>

#include "caf/expected.hpp"

namespace jobwire {

/// The reason in an optional `{"reason": "..."}` cancel body; an empty body
/// means no reason.
caf::expected<std::string> parse_cancel_request(std::string_view body);

} // namespace jobwire
