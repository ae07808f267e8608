#include "net/request_framing.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace jobwire {

namespace {

bool is_token_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || std::string_view{"!#$%&'*+-.^_`|~"}.find(c)
                                   != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool is_chunked(std::string_view coding) {
  return coding.size() == 7
         && std::equal(coding.begin(), coding.end(), "chunked",
                       [](char a, char b) {
                         return std::tolower(static_cast<unsigned char>(a))
                                == b;
                       });
}

/// The coding's name for a message, when it is a plain token.
std::string quoted(std::string_view coding) {
  if (coding.empty() || coding.size() > 32
      || !std::all_of(coding.begin(), coding.end(), is_token_char))
    return "a transfer coding other than chunked";
  return "transfer coding '" + std::string{coding} + "'";
}

} // namespace

std::optional<framing_refusal>
check_request_framing(std::span<const std::string_view> codings,
                      bool has_content_length) {
  if (codings.empty())
    return std::nullopt;
  std::vector<std::string_view> list;
  for (auto value : codings) {
    while (true) {
      auto comma = value.find(',');
      // Parameters (";q=...") are part of the coding: not ours either way.
      auto item = trim(value.substr(0, comma));
      if (!item.empty())
        list.push_back(item);
      if (comma == std::string_view::npos)
        break;
      value.remove_prefix(comma + 1);
    }
  }
  if (list.empty())
    return framing_refusal{400, "an empty Transfer-Encoding"};
  if (has_content_length)
    return framing_refusal{400, "both Transfer-Encoding and Content-Length; "
                                "send one of them"};
  if (!is_chunked(list.back()))
    return framing_refusal{400, "Transfer-Encoding must end with chunked, "
                                "or the body's end is unknown"};
  if (std::any_of(list.begin(), list.end() - 1, is_chunked))
    return framing_refusal{400, "chunked applied more than once"};
  if (list.size() > 1)
    return framing_refusal{501, quoted(list.front())
                                  + " is not supported; send the body "
                                    "plain or chunked"};
  return std::nullopt;
}

} // namespace jobwire
