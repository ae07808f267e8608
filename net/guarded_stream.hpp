#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include "net/frame_counter.hpp"

namespace jobwire {

/// The TCP stream under a WebSocket session.
///
/// Reads: fails the read once a client message exceeds the fragment limit.
///
/// Writes: one at a time, each sent whole before it completes, in the order
/// they were made, whether Beast's (its pings, pongs and close) or the
/// session's own (`async_write_all`: many data frames in one syscall,
/// framed by the session). So no write ever lands inside another.
class guarded_stream {
public:
  // A plain socket, not Beast's tcp_stream: the WebSocket stream keeps its
  // own timers, and tcp_stream's would cost each connection 0.5 KiB.
  using next_layer_type
    = boost::asio::basic_stream_socket<boost::asio::ip::tcp,
                                       boost::asio::any_io_executor>;
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

  /// Beast's writes: sent whole (one call per frame Beast writes), after
  /// the writes made before.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::system::error_code,
                                                   std::size_t)>(
      [this](auto handler, const ConstBuffers& bufs) {
        write_in_turn(bufs, std::move(handler));
      },
      token, buffers);
  }

  /// The session's writes: all of `buffers`, after the writes made before;
  /// `handler(error_code, size_t)` runs on the stream's executor.
  template <class ConstBuffers, class Handler>
  void async_write_all(const ConstBuffers& buffers, Handler&& handler) {
    write_in_turn(buffers, std::forward<Handler>(handler));
  }

  /// What the client has sent so far, frame by frame.
  const frame_counter& counter() const {
    return counter_;
  }

  /// A write is on its way to the socket.
  bool writing() const {
    return writing_;
  }

  /// Lets go of the writes waiting for the one in flight, unstarted. Only
  /// once the io threads are gone: a waiting write holds its caller, who
  /// may own this stream, and so would never be freed with the io_context.
  void drop_waiting() {
    auto dropped = std::move(waiting_);
    waiting_.clear();
  }

  /// From now until `release`, writes are kept, not sent, and complete at
  /// once: the handshake's 101 then leaves with the first frame after it,
  /// one syscall and one packet instead of two.
  void hold() {
    holding_ = true;
  }

  /// The kept bytes go in front of the next write.
  void release() {
    holding_ = false;
  }

  /// Sends what was kept (a failed handshake's error response), if any;
  /// `handler(error_code)` runs once it is out.
  template <class Handler>
  void flush_held(Handler&& handler) {
    holding_ = false;
    write_in_turn(boost::asio::const_buffer{},
                  [h = std::forward<Handler>(handler)](
                    boost::system::error_code ec, std::size_t) mutable {
                    std::move(h)(ec);
                  });
  }

private:
  // A write that waits for the one in flight.
  struct waiting_write {
    virtual ~waiting_write() = default;
    virtual void start() = 0;
  };

  template <class F>
  struct waiting_write_impl : waiting_write {
    explicit waiting_write_impl(F f) : fn(std::move(f)) {
      // nop
    }
    void start() override {
      std::move(fn)();
    }
    F fn;
  };

  template <class ConstBuffers, class Handler>
  void write_in_turn(const ConstBuffers& bufs, Handler&& handler) {
    if (holding_ && !writing_) {
      auto n = boost::asio::buffer_size(bufs);
      if (!held_)
        held_ = std::make_unique<std::string>();
      held_->resize(held_->size() + n);
      boost::asio::buffer_copy(
        boost::asio::buffer(held_->data() + held_->size() - n, n), bufs);
      boost::asio::post(next_.get_executor(),
                        [h = std::forward<Handler>(handler), n]() mutable {
                          std::move(h)(boost::system::error_code{}, n);
                        });
      return;
    }
    auto go = [this, bufs, h = std::forward<Handler>(handler)]() mutable {
      writing_ = true;
      auto kept = held_ ? held_->size() : 0;
      auto done = [this, kept, h = std::move(h)](boost::system::error_code ec,
                                                 std::size_t n) mutable {
        if (kept > 0)
          held_.reset();
        n = n > kept ? n - kept : 0;
        writing_ = false;
        // The next in line goes before the caller can make another.
        if (!waiting_.empty()) {
          auto next = std::move(waiting_.front());
          waiting_.erase(waiting_.begin());
          next->start();
        }
        std::move(h)(ec, n);
      };
      if (kept > 0)
        boost::asio::async_write(
          next_, boost::beast::buffers_cat(boost::asio::buffer(*held_), bufs),
          std::move(done));
      else
        boost::asio::async_write(next_, bufs, std::move(done));
    };
    if (writing_)
      waiting_.push_back(
        std::make_unique<waiting_write_impl<decltype(go)>>(std::move(go)));
    else
      go();
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
  bool writing_ = false;
  bool holding_ = false;
  // Only during the handshake: a pointer, not a string in every stream.
  std::unique_ptr<std::string> held_;
  // At most two: Beast writes one at a time, the session too. (A vector:
  // a deque would allocate 576 bytes per connection up front.)
  std::vector<std::unique_ptr<waiting_write>> waiting_;
};

inline void teardown(boost::beast::role_type role, guarded_stream& s,
                     boost::system::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer(), ec);
}

/// How long the end of a close waits for the peer's FIN.
constexpr auto teardown_timeout = std::chrono::seconds(5);

/// Beast's teardown, bounded: after the close handshake it waits for the
/// peer's FIN with no timeout of its own (Beast 1.81 arms none when the peer
/// began the close), so a client that sent its close but kept the socket
/// open held the connection until the heartbeat dropped it.
template <class TeardownHandler>
void async_teardown(boost::beast::role_type role, guarded_stream& s,
                    TeardownHandler&& handler) {
  using boost::beast::websocket::async_teardown;
  auto& socket = s.next_layer();
  auto timer = std::make_shared<boost::asio::steady_timer>(s.get_executor(),
                                                           teardown_timeout);
  // On the stream's executor, like the completion: no race on `done`.
  auto done = std::make_shared<bool>(false);
  timer->async_wait([&socket, done](boost::system::error_code ec) {
    if (!ec && !*done) {
      boost::system::error_code ignored;
      socket.close(ignored);
    }
  });
  async_teardown(role, socket,
                 [timer, done, h = std::forward<TeardownHandler>(handler)](
                   boost::system::error_code ec) mutable {
                   *done = true;
                   timer->cancel();
                   std::move(h)(ec);
                 });
}

} // namespace jobwire
