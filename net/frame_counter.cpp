#include "net/frame_counter.hpp"

#include <algorithm>
#include <cstdint>

namespace jobwire {

frame_counter::frame_counter(size_t max_fragments)
  : max_fragments_(static_cast<uint32_t>(
      std::min<size_t>(max_fragments, UINT32_MAX))) {
  // nop
}

bool frame_counter::feed(const uint8_t* data, size_t size) {
  while (size > 0 && !violated_) {
    if (payload_left_ > 0) {
      auto n = static_cast<size_t>(std::min<uint64_t>(payload_left_, size));
      payload_left_ -= n;
      data += n;
      size -= n;
      if (payload_left_ == 0)
        on_frame_end();
      continue;
    }
    settled_ = false;
    header_[header_size_++] = *data++;
    --size;
    if (header_size_ == 2) {
      // Now the length of the whole header is known.
      auto len7 = header_[1] & 0x7f;
      header_needed_ = static_cast<uint8_t>(
        2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0)
        + ((header_[1] & 0x80) != 0 ? 4 : 0));
    }
    if (header_size_ == header_needed_)
      on_header();
  }
  return !violated_;
}

void frame_counter::on_header() {
  bool fin = (header_[0] & 0x80) != 0;
  auto opcode = header_[0] & 0x0f;
  uint64_t len = header_[1] & 0x7f;
  if (len == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
  } else if (len == 127) {
    len = 0;
    for (int i = 2; i < 10; ++i)
      len = (len << 8) | header_[i];
  }
  payload_left_ = len;
  header_size_ = 0;
  header_needed_ = 2;
  ends_message_ = false;
  // Control frames (opcode 8 and up) may come between fragments.
  if (opcode < 8) {
    fragments_ = opcode == 0 ? fragments_ + 1 : 1;
    if (fragments_ > max_fragments_) {
      violated_ = true;
    } else if (fin) {
      fragments_ = 0;
      ends_message_ = true;
    }
  }
  if (payload_left_ == 0)
    on_frame_end();
}

void frame_counter::on_frame_end() {
  if (ends_message_) {
    ++messages_;
    settled_ = true;
  }
  ends_message_ = false;
}

} // namespace jobwire
