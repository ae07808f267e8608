#define BOOST_TEST_MODULE guarded_stream
#include <boost/test/unit_test.hpp>

#include <poll.h>

#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "net/guarded_stream.hpp"

using jobwire::guarded_stream;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

/// A guarded_stream on one end of a real loopback connection, and the plain
/// socket at the other end.
struct fixture {
  fixture() {
    tcp::acceptor acceptor{ioc, {asio::ip::make_address("127.0.0.1"), 0}};
    peer.connect(acceptor.local_endpoint());
    stream.emplace(boost::beast::tcp_stream{acceptor.accept()}, 100);
  }

  /// Writes `bytes` with one async_write_some and runs until it completes;
  /// returns the bytes it reported.
  size_t write_some(const std::string& bytes) {
    size_t reported = 0;
    bool done = false;
    stream->async_write_some(asio::buffer(bytes),
                             [&](boost::system::error_code ec, size_t n) {
                               BOOST_TEST(!ec, ec.message());
                               reported = n;
                               done = true;
                             });
    // The completion never runs inside the initiating call.
    BOOST_TEST(!done);
    ioc.restart();
    ioc.run();
    BOOST_TEST(done);
    return reported;
  }

  /// Whether the peer can read anything within `ms`.
  bool peer_has_data(int ms) {
    pollfd p{peer.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, ms) == 1;
  }

  std::string peer_read(size_t n) {
    std::string out(n, '\0');
    asio::read(peer, asio::buffer(out));
    return out;
  }

  asio::io_context ioc;
  tcp::socket peer{ioc};
  std::optional<guarded_stream> stream;
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(writes, fixture)

BOOST_AUTO_TEST_CASE(held_writes_leave_with_the_next_unheld_one_in_order) {
  stream->hold_next_write();
  BOOST_TEST(write_some("first,") == 6u);
  BOOST_TEST(stream->held_bytes() == 6u);
  stream->hold_next_write();
  BOOST_TEST(write_some("second,") == 7u);
  BOOST_TEST(stream->held_bytes() == 13u);
  BOOST_TEST(!peer_has_data(100));
  // Reports its own bytes only, though it sent all three.
  BOOST_TEST(write_some("third") == 5u);
  BOOST_TEST(stream->held_bytes() == 0u);
  BOOST_TEST(peer_read(18) == "first,second,third");
}

BOOST_AUTO_TEST_CASE(a_hold_covers_one_write_only) {
  stream->hold_next_write();
  write_some("a");
  write_some("b");
  BOOST_TEST(stream->held_bytes() == 0u);
  BOOST_TEST(peer_read(2) == "ab");
}

BOOST_AUTO_TEST_CASE(a_write_past_the_hold_limit_is_sent) {
  stream->hold_next_write();
  write_some(std::string(100, 'x'));
  stream->hold_next_write();
  std::string big(guarded_stream::max_held_bytes, 'y');
  // Not held: 100 + 64 KiB would pass the limit. A write_some may send
  // part of it; the held 100 bytes go first in any case.
  bool done = false;
  asio::async_write(*stream, asio::buffer(big),
                    [&](boost::system::error_code ec, size_t n) {
                      BOOST_TEST(!ec, ec.message());
                      BOOST_TEST(n == big.size());
                      done = true;
                    });
  std::string got;
  std::thread reader{[&] { got = peer_read(100 + big.size()); }};
  ioc.restart();
  ioc.run();
  reader.join();
  BOOST_TEST(done);
  BOOST_TEST(stream->held_bytes() == 0u);
  BOOST_TEST(got == std::string(100, 'x') + big);
}

BOOST_AUTO_TEST_SUITE_END()
