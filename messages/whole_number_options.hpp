#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "caf/config_option_set.hpp"

namespace jobwire {

/// Checks the `--name=value` arguments whose option in `options` is an
/// unsigned integer, before CAF reads them: CAF 0.17 reads a uint64 of 2^63
/// or more as another number, and names a malformed one only by its
/// parser's error code. Returns what is wrong with the first bad one, naming
/// the argument, or "" when all are fine.
std::string check_whole_number_options(const caf::config_option_set& options,
                                       int argc, char** argv);

/// "--name=value is out of range: it must be from low to high", or "" when
/// `value` is within them.
std::string range_error(std::string_view name, uint64_t value, uint64_t low,
                        uint64_t high);

} // namespace jobwire
