#include "messages/identifiers.hpp"

#include <algorithm>

#include <sys/random.h>

#include <cstdio>
#include <stdexcept>

namespace jobwire {

size_t utf8_length(std::string_view x) {
  // Every character has exactly one byte that is not a continuation byte.
  return static_cast<size_t>(std::count_if(x.begin(), x.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

bool is_valid_job_id(std::string_view x) {
  if (x.empty() || x.size() > max_id_length)
    return false;
  for (char c : x) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':'
              || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

std::string make_connection_id(int64_t unix_ms) {
  uint64_t rnd = 0;
  // getrandom blocks only before the kernel's pool is seeded at boot.
  if (getrandom(&rnd, sizeof(rnd), 0) != static_cast<ssize_t>(sizeof(rnd)))
    throw std::runtime_error("getrandom failed");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "conn_%lld_%016llx",
                static_cast<long long>(unix_ms),
                static_cast<unsigned long long>(rnd));
  return buf;
}

bool is_valid_connection_id(std::string_view x) {
  constexpr std::string_view prefix = "conn_";
  if (x.size() < prefix.size() + 1 + 1 + 16 || x.substr(0, 5) != prefix)
    return false;
  auto rest = x.substr(5);
  auto sep = rest.find('_');
  if (sep == 0 || sep == std::string_view::npos || rest.size() - sep - 1 != 16)
    return false;
  for (size_t i = 0; i < sep; ++i)
    if (rest[i] < '0' || rest[i] > '9')
      return false;
  for (char c : rest.substr(sep + 1))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
  return true;
}

} // namespace jobwire
