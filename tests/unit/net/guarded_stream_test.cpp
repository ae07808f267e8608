#define BOOST_TEST_MODULE guarded_stream
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>

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
    stream.emplace(acceptor.accept(), 100);
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

// Larger than loopback's socket buffers, so its write stays in flight
// until the peer reads.
const std::string big(8 << 20, 'b');

} // namespace

BOOST_FIXTURE_TEST_SUITE(writes, fixture)

BOOST_AUTO_TEST_CASE(a_write_made_during_another_waits_and_never_interleaves) {
  std::vector<std::string> completed;
  stream->async_write_all(asio::buffer(big),
                          [&](boost::system::error_code ec, size_t n) {
                            BOOST_TEST(!ec, ec.message());
                            BOOST_TEST(n == big.size());
                            completed.push_back("big");
                          });
  BOOST_TEST(stream->writing());
  // As Beast writes a pong while the session's write is in flight.
  std::string pong = "\x8a\x00";
  stream->async_write_some(asio::buffer(pong),
                           [&](boost::system::error_code ec, size_t n) {
                             BOOST_TEST(!ec, ec.message());
                             BOOST_TEST(n == pong.size());
                             completed.push_back("pong");
                           });
  // Run until the socket buffers are full: the big write is stuck.
  for (int i = 0; i < 100; ++i)
    ioc.poll();
  BOOST_TEST(completed.empty());
  std::string got;
  std::thread reader{[&] { got = peer_read(big.size() + pong.size()); }};
  ioc.restart();
  ioc.run();
  reader.join();
  BOOST_TEST((completed == std::vector<std::string>{"big", "pong"}));
  BOOST_TEST(!stream->writing());
  BOOST_TEST(got.substr(0, big.size()) == big);
  BOOST_TEST(got.substr(big.size()) == pong);
}

BOOST_AUTO_TEST_CASE(beast_writes_are_sent_whole) {
  // A write_some may send part; these report all, so Beast's frames leave
  // in one piece and nothing can come between their parts.
  size_t reported = 0;
  stream->async_write_some(asio::buffer(big),
                           [&](boost::system::error_code ec, size_t n) {
                             BOOST_TEST(!ec, ec.message());
                             reported = n;
                           });
  std::string got;
  std::thread reader{[&] { got = peer_read(big.size()); }};
  ioc.run();
  reader.join();
  BOOST_TEST(reported == big.size());
  BOOST_TEST(got == big);
}

BOOST_AUTO_TEST_SUITE_END()
