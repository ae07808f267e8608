#pragma once

#include <string>
#include <string_view>

namespace jobwire {

/// Appends `payload` to `out` as one unmasked, final WebSocket text frame
/// (RFC 6455 5.2), as a server sends it. The session writes many of these in
/// one syscall instead of one Beast write per frame.
void append_text_frame(std::string& out, std::string_view payload);

/// Appends only the header of that frame, for a payload sent from where it
/// lies (at most 10 bytes: within a std::string's own buffer).
void append_text_frame_header(std::string& out, size_t payload_size);

/// The header size `append_text_frame` adds for `payload_size` bytes.
constexpr size_t text_frame_header_size(size_t payload_size) {
  return payload_size < 126 ? 2 : payload_size <= 0xffff ? 4 : 10;
}

} // namespace jobwire
