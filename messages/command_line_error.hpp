#pragma once

#include <string>

#include "caf/error.hpp"

namespace jobwire {

/// A sentence for an error of CAF's command-line parser, naming the
/// argument at fault ("unknown option --nope"); CAF 0.17 renders it as
/// `parser_error(not_an_option, ({"argument" = "--nope"}))`.
std::string describe_command_line_error(const caf::error& err);

} // namespace jobwire
