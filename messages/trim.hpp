#pragma once

#include <cctype>
#include <string_view>

namespace jobwire {

/// `x` without the white space around it.
inline std::string_view trim_spaces(std::string_view x) {
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.front())))
    x.remove_prefix(1);
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.back())))
    x.remove_suffix(1);
  return x;
}

} // namespace jobwire
