#pragma once

#include <cstddef>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/frame_counter.hpp"

namespace jobwire {

/// The TCP stream under a WebSocket session: passes everything through and
/// fails the read once a client message exceeds the fragment limit.
class guarded_stream {
public:
  using next_layer_type = boost::beast::tcp_stream;
  using executor_type = next_layer_type::executor_type;

  guarded_stream(next_layer_type&& next, size_t max_fragments)
    : next_(std::move(next)), counter_(max_fragments) {
    // nop
  }

  executor_type get_executor() {
    return next_.get_executor();
  }

  next_layer_type& next_layer() {
    return next_;
  }

  const next_layer_type& next_layer() const {
    return next_;
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                   std::size_t)>(
      [this](auto handler, const MutableBuffers& bufs) {
        next_.async_read_some(
          bufs, [this, bufs, h = std::move(handler)](
                  boost::system::error_code ec, std::size_t n) mutable {
            if (!ec && !inspect(bufs, n))
              ec = boost::asio::error::message_size;
            std::move(h)(ec, n);
          });
      },
      token, buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return next_.async_write_some(buffers, std::forward<Token>(token));
  }

private:
  template <class MutableBuffers>
  bool inspect(const MutableBuffers& bufs, std::size_t n) {
    auto first = boost::asio::buffer_sequence_begin(bufs);
    auto last = boost::asio::buffer_sequence_end(bufs);
    for (; first != last && n > 0; ++first) {
      boost::asio::const_buffer b = *first;
      auto k = std::min(n, b.size());
      if (!counter_.feed(static_cast<const uint8_t*>(b.data()), k))
        return false;
      n -= k;
    }
    return true;
  }

  next_layer_type next_;
  frame_counter counter_;
};

inline void teardown(boost::beast::role_type role, guarded_stream& s,
                     boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer().socket(), ec);
}

template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, guarded_stream& s,
                    TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, s.next_layer().socket(),
                 std::forward<TeardownHandler>(handler));
}

} // namespace jobwire
