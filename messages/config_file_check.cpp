#include "messages/config_file_check.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string_view>

#include "caf/actor_system_config.hpp"
#include "caf/config_option.hpp"
#include "caf/config_value.hpp"
#include "caf/deep_to_string.hpp"

#include "messages/small_file.hpp"
#include "messages/trim.hpp"

namespace jobwire {

namespace {

/// The first `key=0<digit>...` line of `text`: CAF reads such a number as
/// octal (`heartbeat=010` is 8).
std::string octal_line(const std::string& text) {
  std::istringstream in{text};
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    auto eq = line.find('=');
    if (eq == std::string::npos || trim_spaces(line).starts_with(';'))
      continue;
    auto value = trim_spaces(std::string_view{line}.substr(eq + 1));
    if (value.size() > 1 && value[0] == '0'
        && std::isdigit(static_cast<unsigned char>(value[1])))
      return "line " + std::to_string(n) + ": '"
             + std::string{trim_spaces(line)} + "'";
  }
  return {};
}

/// "line 4, column 12: unexpected character" out of CAF's rendering of a
/// parser error, `parser_error(unexpected_character, ({"column" = 12,
/// "line" = 4}))`; the rendering itself when it has another shape.
std::string where(const std::string& rendered) {
  static const std::regex shape{
    R"re(parser_error\((\w+), \(\{"column" = (\d+), "line" = (\d+)\}\)\))re"};
  std::smatch m;
  if (!std::regex_search(rendered, m, shape))
    return rendered;
  auto what = m[1].str();
  std::replace(what.begin(), what.end(), '_', ' ');
  return "line " + m[3].str() + ", column " + m[2].str() + ": " + what;
}

/// Checks each entry of `section` (in `category`) against `options`.
std::string check_section(const caf::config_option_set& options,
                          const std::string& file, const std::string& category,
                          const caf::settings& section) {
  for (auto& [key, value] : section) {
    // Top-level keys and [global] are both the jobwire options.
    if (auto sub = caf::get_if<caf::settings>(&value);
        sub != nullptr && category == "global") {
      auto bad = check_section(options, file, key, *sub);
      if (!bad.empty())
        return bad;
      continue;
    }
    auto name = category == "global" ? key : category + "." + key;
    auto opt = options.qualified_name_lookup(category, key);
    if (opt == nullptr)
      return "the config file '" + file + "' sets '" + name
             + "', which is not an option (see --help)";
    if (opt->check(value))
      return "the config file '" + file + "' sets '" + name + "' to "
             + caf::deep_to_string(value) + ", which is not a "
             + std::string{opt->type_name().data(), opt->type_name().size()}
             + (opt->type_name() == "string"
                  ? std::string{" (strings go in double quotes)"}
                  : std::string{})
             + " (see --help)";
  }
  return {};
}

} // namespace

std::string config_file_argument(int argc, char** argv, bool& explicit_path) {
  constexpr std::string_view flag = "--config-file=";
  explicit_path = false;
  std::string path = "caf-application.ini";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg{argv[i]};
    if (arg.substr(0, flag.size()) == flag) {
      path = std::string{arg.substr(flag.size())};
      explicit_path = true;
    }
  }
  return path;
}

std::string check_config_file(const caf::config_option_set& options,
                              const std::string& path, bool explicit_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (!explicit_path)
      return {};
    return "cannot read the config file '" + path
           + "': no such file (--config-file)";
  }
  if (fs::is_directory(path, ec))
    return "the config file '" + path + "' is a directory (--config-file)";
  // A config file is a few KB: /dev/zero is a slip, not a file to read.
  constexpr size_t max_bytes = 1 << 20;
  std::string text;
  auto read = read_small_file(path, max_bytes, text);
  if (read == small_file_read::unreadable)
    return "cannot read the config file '" + path + "'";
  if (read == small_file_read::too_large)
    return "the config file '" + path + "' holds more than 1 MiB";
  if (auto line = octal_line(text); !line.empty())
    return "the config file '" + path + "', " + line
           + ": a number with a leading 0 would be read as octal; write it "
             "without";
  std::istringstream source{text};
  auto parsed = caf::actor_system_config::parse_config(source);
  if (!parsed)
    return "the config file '" + path + "' is not in CAF's INI format ("
           + where(caf::to_string(parsed.error()))
           + "): sections like [global], `key=value` lines, strings in "
             "double quotes, comments after ';'";
  return check_section(options, path, "global", *parsed);
}

} // namespace jobwire
