#define BOOST_TEST_MODULE frame_counter
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <vector>

#include "net/frame_counter.hpp"

using jobwire::frame_counter;

namespace {

/// A masked client frame with `payload` bytes of zeros.
std::vector<uint8_t> frame(bool fin, uint8_t opcode, size_t payload) {
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>((fin ? 0x80 : 0) | opcode));
  if (payload < 126) {
    out.push_back(static_cast<uint8_t>(0x80 | payload));
  } else if (payload <= 0xffff) {
    out.push_back(0x80 | 126);
    out.push_back(static_cast<uint8_t>(payload >> 8));
    out.push_back(static_cast<uint8_t>(payload & 0xff));
  } else {
    out.push_back(0x80 | 127);
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<uint8_t>((uint64_t{payload} >> (8 * i)) & 0xff));
  }
  for (int i = 0; i < 4; ++i)
    out.push_back(0x11); // mask key
  out.resize(out.size() + payload, 0);
  return out;
}

bool feed(frame_counter& c, const std::vector<uint8_t>& bytes) {
  return c.feed(bytes.data(), bytes.size());
}

} // namespace

BOOST_AUTO_TEST_CASE(whole_messages_never_count_up) {
  frame_counter c{2};
  for (int i = 0; i < 100; ++i)
    BOOST_TEST(feed(c, frame(true, 1, 10)));
  BOOST_TEST(c.fragments() == 0u);
}

BOOST_AUTO_TEST_CASE(fragments_up_to_the_limit_pass) {
  frame_counter c{3};
  BOOST_TEST(feed(c, frame(false, 1, 5)));
  BOOST_TEST(feed(c, frame(false, 0, 0)));
  BOOST_TEST(feed(c, frame(true, 0, 5)));
  BOOST_TEST(c.fragments() == 0u);
}

BOOST_AUTO_TEST_CASE(one_fragment_too_many_fails) {
  frame_counter c{3};
  BOOST_TEST(feed(c, frame(false, 1, 1)));
  BOOST_TEST(feed(c, frame(false, 0, 0)));
  BOOST_TEST(feed(c, frame(false, 0, 0)));
  BOOST_TEST(!feed(c, frame(false, 0, 0)));
  // It stays failed.
  BOOST_TEST(!feed(c, frame(true, 1, 1)));
}

BOOST_AUTO_TEST_CASE(control_frames_between_fragments_do_not_count) {
  frame_counter c{2};
  BOOST_TEST(feed(c, frame(false, 1, 1)));
  for (int i = 0; i < 10; ++i)
    BOOST_TEST(feed(c, frame(true, 9, 4))); // ping
  BOOST_TEST(feed(c, frame(true, 0, 1)));
}

BOOST_AUTO_TEST_CASE(byte_by_byte_and_long_lengths) {
  frame_counter c{2};
  std::vector<uint8_t> all;
  for (auto len : {size_t{200}, size_t{70000}}) {
    auto f = frame(false, len == 200 ? 1 : 0, len);
    all.insert(all.end(), f.begin(), f.end());
  }
  auto last = frame(false, 0, 3);
  all.insert(all.end(), last.begin(), last.end());
  bool ok = true;
  size_t i = 0;
  for (; i < all.size() && ok; ++i)
    ok = c.feed(&all[i], 1);
  BOOST_TEST(!ok);
  // It failed on the third frame's header, not inside a payload.
  BOOST_TEST(i == all.size() - 3);
}

BOOST_AUTO_TEST_CASE(settled_only_at_the_end_of_a_data_message) {
  frame_counter c{8};
  BOOST_TEST(c.settled());
  BOOST_TEST(c.messages() == 0u);
  auto first = frame(false, 1, 10);
  // Byte by byte: never settled inside a frame or between fragments.
  for (auto b : first) {
    BOOST_TEST(c.feed(&b, 1));
    BOOST_TEST(!c.settled());
  }
  auto last = frame(true, 0, 3);
  BOOST_TEST(c.feed(last.data(), last.size() - 1));
  BOOST_TEST(!c.settled());
  BOOST_TEST(c.messages() == 0u);
  BOOST_TEST(c.feed(last.data() + last.size() - 1, 1));
  BOOST_TEST(c.settled());
  BOOST_TEST(c.messages() == 1u);
}

BOOST_AUTO_TEST_CASE(a_control_frame_after_a_message_unsettles) {
  // Beast would hold the ping unread after handing over the message.
  frame_counter c{8};
  auto text = frame(true, 1, 5);
  auto ping = frame(true, 9, 0);
  BOOST_TEST(feed(c, text));
  BOOST_TEST(c.settled());
  BOOST_TEST(feed(c, ping));
  BOOST_TEST(!c.settled());
  BOOST_TEST(c.messages() == 1u);
  // The next data message settles it again.
  BOOST_TEST(feed(c, frame(true, 2, 0)));
  BOOST_TEST(c.settled());
  BOOST_TEST(c.messages() == 2u);
}

BOOST_AUTO_TEST_CASE(two_messages_in_one_read_count_two) {
  frame_counter c{8};
  auto bytes = frame(true, 1, 4);
  auto second = frame(true, 1, 200);
  bytes.insert(bytes.end(), second.begin(), second.end());
  BOOST_TEST(feed(c, bytes));
  BOOST_TEST(c.messages() == 2u);
  BOOST_TEST(c.settled());
}
