#include "messages/command_line_error.hpp"

#include <string_view>

#include "caf/actor_system_config.hpp"
#include "caf/pec.hpp"

namespace jobwire {

namespace {

/// The argument CAF put in the error's context, or "".
std::string argument_of(std::string_view rendered) {
  constexpr std::string_view key = R"("argument" = ")";
  auto at = rendered.find(key);
  if (at == std::string_view::npos)
    return {};
  auto rest = rendered.substr(at + key.size());
  return std::string{rest.substr(0, rest.find('"'))};
}

} // namespace

std::string describe_command_line_error(const caf::error& err) {
  auto rendered = caf::actor_system_config::render(err);
  auto arg = argument_of(rendered);
  if (err.category() != caf::make_error(caf::pec::not_an_option).category()
      || arg.empty())
    return rendered;
  switch (static_cast<caf::pec>(err.code())) {
    case caf::pec::not_an_option:
      return "unknown option " + arg;
    case caf::pec::missing_argument: {
      // CAF names `--name=` (an empty value) as given.
      auto name = arg.ends_with('=') ? arg.substr(0, arg.size() - 1) : arg;
      return name + " needs a value (" + name + "=...)";
    }
    default:
      return arg + " is not a valid value for its option";
  }
}

} // namespace jobwire
