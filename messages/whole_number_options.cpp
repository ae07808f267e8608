#include "messages/whole_number_options.hpp"

#include <charconv>
#include <cstdint>
#include <string_view>

#include "caf/config_option.hpp"

namespace jobwire {

namespace {

/// The largest value CAF reads right for an option of `type`; 0 for an
/// option that is not an unsigned integer.
uint64_t largest_for(caf::string_view type) {
  if (type == "uint64")
    return uint64_t{INT64_MAX};
  if (type == "uint32")
    return UINT32_MAX;
  if (type == "uint16")
    return UINT16_MAX;
  if (type == "uint8")
    return UINT8_MAX;
  return 0;
}

} // namespace

std::string check_whole_number_options(const caf::config_option_set& options,
                                       int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    auto eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == std::string_view::npos)
      continue;
    auto name = arg.substr(2, eq - 2);
    auto opt = options.cli_long_name_lookup(
      caf::string_view{name.data(), name.size()});
    if (opt == nullptr)
      continue;
    auto max = largest_for(opt->type_name());
    if (max == 0)
      continue;
    auto text = arg.substr(eq + 1);
    auto last = text.data() + text.size();
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), last, value);
    if (text.empty() || ec == std::errc::invalid_argument || end != last)
      return std::string{arg} + " is not a whole number (digits only)";
    if (text.size() > 1 && text.front() == '0')
      return std::string{arg} + " has a leading 0, which CAF would read as "
             "octal: write it without";
    if (ec == std::errc::result_out_of_range || value > max)
      return std::string{arg} + " is out of range: it must be at most "
             + std::to_string(max);
  }
  return {};
}

std::string range_error(std::string_view name, uint64_t value, uint64_t low,
                        uint64_t high) {
  if (value >= low && value <= high)
    return {};
  return "--" + std::string{name} + "=" + std::to_string(value)
         + " is out of range: it must be from " + std::to_string(low) + " to "
         + std::to_string(high);
}

} // namespace jobwire
