#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/frame_counter.hpp"

namespace jobwire {

/// The TCP stream under a WebSocket session. Reads: fails the read once a
/// client message exceeds the fragment limit. Writes: a write made after
/// `hold_next_write()` is copied aside and reported done at once; the next
/// write that is not held sends the held bytes and its own in one syscall.
/// The session holds a frame only when another is queued behind it, so held
/// bytes never wait for long, and every write Beast makes on its own (pong,
/// ping, close) flushes them.
class guarded_stream {
public:
  /// Bytes held at most; a write that would pass it is sent with the rest.
  static constexpr size_t max_held_bytes = 64 * 1024;

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

  /// Holds the next write (one only), if it fits.
  void hold_next_write() {
    hold_next_ = true;
  }

  /// Bytes reported written that have not reached the socket yet.
  size_t held_bytes() const {
    return held_.size();
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                   std::size_t)>(
      [this](auto handler, const ConstBuffers& bufs) {
        auto n = boost::asio::buffer_size(bufs);
        auto hold = hold_next_ && held_.size() + n <= max_held_bytes;
        hold_next_ = false;
        if (hold) {
          auto old = held_.size();
          held_.resize(old + n);
          boost::asio::buffer_copy(boost::asio::buffer(held_.data() + old, n),
                                   bufs);
          boost::asio::post(next_.get_executor(),
                            [h = std::move(handler), n]() mutable {
                              std::move(h)(boost::system::error_code{}, n);
                            });
          return;
        }
        if (held_.empty()) {
          next_.async_write_some(bufs, std::move(handler));
          return;
        }
        // All of it: the caller may only learn of its own bytes.
        boost::asio::async_write(
          next_, boost::beast::buffers_cat(boost::asio::buffer(held_), bufs),
          [this, n, h = std::move(handler)](boost::system::error_code ec,
                                            std::size_t) mutable {
            release_held();
            std::move(h)(ec, ec ? 0 : n);
          });
      },
      token, buffers);
  }

private:
  void release_held() {
    // A burst's buffer is not kept by an idle connection.
    if (held_.capacity() > 4096)
      std::string{}.swap(held_);
    else
      held_.clear();
  }

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
  bool hold_next_ = false;
  std::string held_;
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
