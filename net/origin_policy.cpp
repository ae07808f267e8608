#include "net/origin_policy.hpp"

#include <algorithm>
#include <cctype>

namespace jobwire {

namespace {

std::string lower(std::string_view x) {
  std::string out{x};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trimmed(std::string_view x) {
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.front())))
    x.remove_prefix(1);
  while (!x.empty() && std::isspace(static_cast<unsigned char>(x.back())))
    x.remove_suffix(1);
  return x;
}

} // namespace

origin_policy origin_policy::parse(std::string_view list) {
  origin_policy out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto entry = trimmed(list.substr(0, comma));
    if (entry == "*")
      out.any_ = true;
    else if (!entry.empty())
      out.origins_.push_back(lower(entry));
    list = comma == std::string_view::npos ? std::string_view{}
                                           : list.substr(comma + 1);
  }
  return out;
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
