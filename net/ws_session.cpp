#include "net/ws_session.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/version.hpp>

#include "caf/all.hpp"

#include "actors/connection_actor.hpp"
#include "messages/identifiers.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/timestamp.hpp"

namespace jobwire {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;

namespace {

bool is_expected_end(beast::error_code ec) {
  return ec == websocket::error::closed || ec == asio::error::operation_aborted
         || ec == asio::error::eof || ec == asio::error::connection_reset;
}

} // namespace

ws_session::ws_session(beast::tcp_stream&& stream, server_context& ctx)
  : ws_(guarded_stream{std::move(stream), ctx.settings.max_fragments}),
    ctx_(ctx) {
  // nop
}

ws_session::~ws_session() {
  ctx_.sessions.remove(this);
  finish();
}

void ws_session::run(request req) {
  // The websocket stream keeps its own timers; the TCP layer's must be off.
  beast::get_lowest_layer(ws_).expires_never();
  websocket::stream_base::timeout opts{
    ctx_.settings.handshake_timeout,
    websocket::stream_base::none(),
    false,
  };
  ws_.set_option(opts);
  ws_.set_option(websocket::stream_base::decorator(
    [](websocket::response_type& res) {
      res.set(beast::http::field::server, "jobwire");
    }));
  ws_.read_message_max(ctx_.settings.max_message_bytes);
  ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept,
                                                  shared_from_this()));
}

void ws_session::on_accept(beast::error_code ec) {
  if (ec) {
    log::info("websocket handshake failed", {{"reason", ec.message()}});
    return;
  }
  connection_id_ = make_connection_id(unix_now_ms());
  ctx_.sessions.add(this, weak_from_this());
  actor_ = ctx_.sys.spawn(connection_impl,
                          std::weak_ptr<frame_sink>{shared_from_this()},
                          connection_id_, ctx_.directory, ctx_.registry,
                          ctx_.settings.connection);
  ++*ctx_.live_connections;
  caf::actor_cast<caf::abstract_actor*>(actor_)->attach_functor(
    [count = ctx_.live_connections] { --*count; });
  do_read();
}

void ws_session::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read,
                                                    shared_from_this()));
}

void ws_session::on_read(beast::error_code ec, std::size_t) {
  if (ec) {
    if (ec == asio::error::message_size) {
      // The fragment limit: the stream is spent, only the socket is left.
      log::warn("too many fragments in one message; closing",
                {{"connection_id", connection_id_}});
      beast::error_code ignored;
      beast::get_lowest_layer(ws_).socket().close(ignored);
    } else if (!is_expected_end(ec)) {
      // Beast has already sent the close frame (1009, 1007, 1002) itself.
      log::info("websocket read ended",
                {{"connection_id", connection_id_}, {"reason", ec.message()}});
    }
    finish();
    return;
  }
  client_command cmd;
  if (ws_.got_text()) {
    cmd = parse_command(beast::buffers_to_string(buffer_.data()));
  } else {
    cmd.type = command_type::invalid;
    cmd.error = error_code::invalid_message;
    cmd.error_message = "binary frames are not supported; send JSON as text";
  }
  buffer_.consume(buffer_.size());
  caf::anon_send(actor_, command_atom::value, std::move(cmd));
  do_read();
}

void ws_session::send(frame_ptr frame) {
  asio::post(ws_.get_executor(), [self = shared_from_this(),
                                  frame = std::move(frame)]() mutable {
    if (self->closing_)
      return;
    if (self->queued_bytes_ + frame->text.size() > self->ctx_.settings.max_queue_bytes
        && !self->queue_.empty()) {
      log::warn("outbound queue full; closing slow consumer",
                {{"connection_id", self->connection_id_}});
      self->queue_.resize(1); // the frame being written must stay alive
      self->queued_bytes_ = self->queue_.front()->text.size();
      self->close_reason_ = websocket::close_reason{
        websocket::close_code::try_again_later, "slow consumer"};
      self->close_pending_ = true;
      self->closing_ = true;
      return;
    }
    self->queued_bytes_ += frame->text.size();
    self->queue_.push_back(std::move(frame));
    if (self->queue_.size() == 1)
      self->do_write();
  });
}

void ws_session::close(uint16_t code, std::string reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), code,
                                  reason = std::move(reason)] {
    if (self->closing_)
      return;
    self->closing_ = true;
    self->close_reason_ = websocket::close_reason{
      static_cast<websocket::close_code>(code), reason};
    if (self->queue_.empty())
      self->do_close();
    else
      self->close_pending_ = true;
  });
}

void ws_session::do_write() {
  ws_.text(true);
  ws_.async_write(asio::buffer(queue_.front()->text),
                  beast::bind_front_handler(&ws_session::on_write,
                                            shared_from_this()));
}

void ws_session::on_write(beast::error_code ec, std::size_t) {
  if (ec) {
    if (!is_expected_end(ec))
      log::info("websocket write failed",
                {{"connection_id", connection_id_}, {"reason", ec.message()}});
    queue_.clear();
    queued_bytes_ = 0;
    closing_ = true;
    return;
  }
  queued_bytes_ -= queue_.front()->text.size();
  queue_.pop_front();
  if (!queue_.empty())
    do_write();
  else if (close_pending_)
    do_close();
}

void ws_session::do_close() {
  close_pending_ = false;
  ws_.async_close(close_reason_, [self = shared_from_this()](
                                   beast::error_code) { self->finish(); });
}

void ws_session::finish() {
  if (actor_) {
    caf::anon_send(actor_, closed_atom::value);
    actor_ = nullptr;
  }
}

} // namespace jobwire
