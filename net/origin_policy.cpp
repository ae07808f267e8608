#include "net/origin_policy.hpp"

#include <algorithm>
#include <cctype>
#include <utility>

#include "messages/trim.hpp"

namespace jobwire {

namespace {

std::string lower(std::string_view x) {
  std::string out{x};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

/// An origin as a browser writes it: lower case, no trailing `/`, no
/// default port.
std::string normalized(std::string_view entry) {
  auto out = lower(entry);
  if (out.ends_with('/') && !out.ends_with("://"))
    out.pop_back();
  for (auto [scheme, port] : {std::pair{"https://", ":443"},
                              std::pair{"http://", ":80"}})
    if (out.starts_with(scheme) && out.ends_with(port))
      out.resize(out.size() - std::string_view{port}.size());
  return out;
}

/// Calls `f` with each trimmed, non-empty entry of the comma-separated
/// `list`.
template <class F>
void for_each_entry(std::string_view list, F f) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto entry = trim_spaces(list.substr(0, comma));
    if (!entry.empty())
      f(entry);
    list = comma == std::string_view::npos ? std::string_view{}
                                           : list.substr(comma + 1);
  }
}

} // namespace

origin_policy origin_policy::parse(std::string_view list) {
  origin_policy out;
  for_each_entry(list, [&](std::string_view entry) {
    if (entry == "*")
      out.any_ = true;
    else
      out.origins_.push_back(normalized(entry));
  });
  return out;
}

std::string origin_policy::check(std::string_view list) {
  std::string bad;
  for_each_entry(list, [&](std::string_view entry) {
    if (!bad.empty() || entry == "*")
      return;
    auto x = normalized(entry);
    auto sep = x.find("://");
    if (sep == std::string::npos || sep == 0)
      bad = "'" + std::string{entry} + "' has no scheme (https://...)";
    else if (x.find('/', sep + 3) != std::string::npos)
      bad = "'" + std::string{entry} + "' has a path; an Origin has none";
    else if (x.find('*') != std::string::npos)
      bad = "'" + std::string{entry}
            + "' has a wildcard; list each origin, or give * alone";
    else if (sep + 3 == x.size())
      bad = "'" + std::string{entry} + "' has no host";
  });
  return bad.empty() ? bad : "--allowed-origins entry " + bad;
}

bool origin_policy::allows(std::string_view origin,
                           std::string_view host) const {
  if (origin.empty() || any_)
    return true;
  auto page = lower(origin);
  if (std::find(origins_.begin(), origins_.end(), page) != origins_.end())
    return true;
  auto sep = page.find("://");
  return sep != std::string::npos && !host.empty()
         && std::string_view{page}.substr(sep + 3) == lower(host);
}

} // namespace jobwire
