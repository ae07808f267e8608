#pragma once

#include <string_view>
#include <utility>

namespace jobwire {

/// A response header beyond the ones every response gets: name, value.
using http_header = std::pair<std::string_view, std::string_view>;

} // namespace jobwire
