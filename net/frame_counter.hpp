#pragma once

#include <cstddef>
#include <cstdint>

namespace jobwire {

/// Follows the WebSocket frames a client sends, byte by byte as they arrive,
/// and counts the frames of the message in progress. Beast joins fragments
/// without a bound on their number (empty ones never even reach us), so this
/// is where "at most N fragments per message" is enforced.
class frame_counter {
public:
  explicit frame_counter(size_t max_fragments);

  /// Feeds bytes read from the client. Returns false once a message has had
  /// more than the allowed number of frames; stays false from then on.
  bool feed(const uint8_t* data, size_t size);

  /// Frames seen of the message in progress.
  size_t fragments() const {
    return fragments_;
  }

  /// Data messages whose every byte has arrived.
  uint64_t messages() const {
    return messages_;
  }

  /// The bytes so far end with the last frame of a data message (or there
  /// are none): whoever has read `messages()` messages holds nothing
  /// unread, not even a control frame.
  bool settled() const {
    return settled_;
  }

private:
  void on_header();
  void on_frame_end();

  // Narrow types: one of these lives in every connection.
  uint32_t max_fragments_;
  uint32_t fragments_ = 0;
  uint8_t header_[14] = {};
  uint8_t header_size_ = 0;
  uint8_t header_needed_ = 2;
  uint64_t payload_left_ = 0;
  bool violated_ = false;
  // The frame being received ends a data message.
  bool ends_message_ = false;
  uint64_t messages_ = 0;
  bool settled_ = true;
};

} // namespace jobwire
