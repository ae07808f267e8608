#include "net/text_frame.hpp"

#include <cstdint>

namespace jobwire {

void append_text_frame(std::string& out, std::string_view payload) {
  append_text_frame_header(out, payload.size());
  out.append(payload);
}

void append_text_frame_header(std::string& out, size_t payload_size) {
  constexpr char fin_text = static_cast<char>(0x81);
  auto n = static_cast<uint64_t>(payload_size);
  out.push_back(fin_text);
  if (n < 126) {
    out.push_back(static_cast<char>(n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8)
      out.push_back(static_cast<char>((n >> shift) & 0xff));
  }
}

} // namespace jobwire
