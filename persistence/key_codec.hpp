#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace jobwire {

/// Appends `x` big-endian, so byte order is numeric order in LMDB.
inline void append_be64(std::string& out, uint64_t x) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

inline uint64_t read_be64(std::string_view x) {
  uint64_t out = 0;
  for (size_t i = 0; i < 8 && i < x.size(); ++i)
    out = (out << 8) | static_cast<unsigned char>(x[i]);
  return out;
}

/// `a \0 b`: job ids never hold a NUL, so a job's keys form one range.
inline std::string compound_key(std::string_view a, std::string_view b) {
  std::string out;
  out.reserve(a.size() + 1 + b.size());
  out += a;
  out += '\0';
  out += b;
  return out;
}

/// `job_id \0 seq (big-endian)`.
inline std::string event_key(std::string_view job_id, uint64_t seq) {
  std::string out;
  out.reserve(job_id.size() + 9);
  out += job_id;
  out += '\0';
  append_be64(out, seq);
  return out;
}

} // namespace jobwire
