#define BOOST_TEST_MODULE text_frame
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>

#include "net/text_frame.hpp"

using jobwire::append_text_frame;
using jobwire::text_frame_header_size;

namespace {

// Decodes one server frame header (RFC 6455 5.2): the payload length, and
// checks FIN, opcode text and no mask.
uint64_t decoded_length(const std::string& frame, size_t& header) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(frame.at(i)); };
  BOOST_TEST(byte(0) == 0x81); // FIN, text
  BOOST_TEST((byte(1) & 0x80) == 0); // unmasked
  uint64_t len = byte(1) & 0x7f;
  header = 2;
  if (len == 126) {
    len = (uint64_t{byte(2)} << 8) | byte(3);
    header = 4;
  } else if (len == 127) {
    len = 0;
    for (size_t i = 2; i < 10; ++i)
      len = (len << 8) | byte(i);
    header = 10;
  }
  return len;
}

} // namespace

BOOST_AUTO_TEST_CASE(lengths_at_each_encoding_boundary) {
  for (size_t n : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    BOOST_TEST_CONTEXT("payload " << n) {
      std::string payload(n, 'p');
      if (n > 0)
        payload.back() = 'z';
      std::string out = "prefix";
      append_text_frame(out, payload);
      auto frame = out.substr(6);
      size_t header = 0;
      BOOST_TEST(decoded_length(frame, header) == n);
      BOOST_TEST(header == text_frame_header_size(n));
      BOOST_TEST(frame.size() == header + n);
      BOOST_TEST(frame.substr(header) == payload);
      BOOST_TEST(out.starts_with("prefix"));
    }
  }
}

BOOST_AUTO_TEST_CASE(frames_append_back_to_back) {
  std::string out;
  append_text_frame(out, R"({"a":1})");
  append_text_frame(out, "");
  BOOST_TEST(out == std::string("\x81\x07{\"a\":1}\x81\x00", 11));
}

BOOST_AUTO_TEST_CASE(a_header_alone_fits_the_string_and_matches_the_whole_frame) {
  for (size_t n : {0, 125, 126, 65535, 65536, 70000}) {
    BOOST_TEST_CONTEXT("payload " << n) {
      std::string header;
      auto own_buffer = header.capacity();
      jobwire::append_text_frame_header(header, n);
      BOOST_TEST(header.size() == text_frame_header_size(n));
      // Written where the string keeps short text: no allocation.
      BOOST_TEST(header.capacity() == own_buffer);
      std::string payload(n, 'q');
      std::string whole;
      append_text_frame(whole, payload);
      BOOST_TEST(header + payload == whole);
    }
  }
}
