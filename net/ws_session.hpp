#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "actors/frame_sink.hpp"
#include "messages/interfaces.hpp"
#include "net/guarded_stream.hpp"
#include "net/server_context.hpp"

namespace jobwire {

/// One WebSocket client: reads text frames and hands each, parsed, to its
/// connection actor; writes the frames the actor sends, one write in flight
/// and the rest queued, up to `max_queue_bytes`.
class ws_session : public frame_sink,
                   public std::enable_shared_from_this<ws_session> {
public:
  using request = boost::beast::http::request<boost::beast::http::string_body>;

  ws_session(boost::beast::tcp_stream&& stream, server_context& ctx);

  ~ws_session() override;

  /// Completes the upgrade `req` and starts reading.
  void run(request req);

  void send(frame_ptr frame) override;

  void close(uint16_t code, std::string reason) override;

private:
  void on_accept(boost::beast::error_code ec);
  void do_read();
  void on_read(boost::beast::error_code ec, std::size_t bytes);
  void do_write();
  void on_write(boost::beast::error_code ec, std::size_t bytes);
  void do_close();
  void finish();

  boost::beast::websocket::stream<guarded_stream> ws_;
  boost::beast::flat_buffer buffer_;
  server_context& ctx_;
  connection_actor actor_;
  std::string connection_id_;
  std::deque<frame_ptr> queue_;
  size_t queued_bytes_ = 0;
  /// A close to send once the queue has drained.
  bool close_pending_ = false;
  boost::beast::websocket::close_reason close_reason_;
  /// No more frames are taken: a close is pending or sent.
  bool closing_ = false;
};

} // namespace jobwire
