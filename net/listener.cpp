#include "net/listener.hpp"

#include <algorithm>

#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include "messages/log.hpp"
#include "net/client_address.hpp"
#include "net/http_session.hpp"

namespace jobwire {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

listener::listener(asio::io_context& ioc, server_context& ctx)
  : ioc_(ioc),
    acceptor_(asio::make_strand(ioc)),
    ctx_(ctx),
    pause_(acceptor_.get_executor()) {
  // nop
}

boost::system::error_code listener::open(const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  // Accepted sockets inherit it: no system call per connection.
  if (!ec && ctx_.settings.socket_send_buffer > 0)
    acceptor_.set_option(asio::socket_base::send_buffer_size(static_cast<int>(
                           ctx_.settings.socket_send_buffer)),
                         ec);
  if (!ec)
    acceptor_.bind(endpoint, ec);
  if (!ec)
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  return ec;
}

uint16_t listener::port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void listener::run() {
  do_accept();
}

void listener::do_accept() {
  // With one io thread every handler already runs on it, one at a time: a
  // strand per connection would only cost memory and a lock per handler.
  auto ex = ctx_.settings.io_threads == 1
              ? asio::any_io_executor{ioc_.get_executor()}
              : asio::any_io_executor{asio::make_strand(ioc_)};
  acceptor_.async_accept(ex,
                         boost::beast::bind_front_handler(&listener::on_accept,
                                                          shared_from_this()));
}

void listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open())
    return;
  if (ec) {
    // Out of descriptors and the like. The connection stays queued, so an
    // accept at once fails at once: the loop spun a core and wrote 300,000
    // lines a second. Wait a moment (a descriptor may come free).
    if (auto held_back = accept_failures_.admit())
      log::warn("accept failed; accepting again in 50 ms",
                {{"reason", ec.message()},
                 {"held_back", std::to_string(*held_back)}});
    pause_.expires_after(std::chrono::milliseconds{50});
    pause_.async_wait(
      [self = shared_from_this()](boost::system::error_code wait_ec) {
        if (!wait_ec && self->acceptor_.is_open())
          self->do_accept();
      });
    return;
  }
  boost::system::error_code ignored;
  auto peer = client_address(socket.remote_endpoint(ignored).address());
  auto per_address
    = std::max<size_t>(1, ctx_.settings.max_pending_handshakes / 2);
  if (ctx_.http_sessions + ctx_.sessions.size()
      >= ctx_.settings.client_descriptors) {
    // The rest of the descriptor limit is the pipelines' and the store's.
    if (auto held_back = out_of_descriptors_.admit())
      log::warn("client sockets hold every descriptor they may; refusing a "
                "connection",
                {{"limit", std::to_string(ctx_.settings.client_descriptors)},
                 {"held_back", std::to_string(*held_back)}});
    socket.close(ignored);
  } else if (ctx_.http_sessions >= ctx_.settings.max_pending_handshakes) {
    // Many idle or half-sent requests at once: someone is holding
    // sockets open. Turn newcomers away rather than run out of fds.
    if (auto held_back = too_many_sessions_.admit())
      log::warn("too many pending HTTP sessions; refusing a connection",
                {{"held_back", std::to_string(*held_back)}});
    socket.close(ignored);
  } else if (!ctx_.http_sessions_by_address.try_add(peer, per_address)) {
    if (auto held_back = too_many_from_address_.admit())
      log::warn("too many pending HTTP sessions from one address; "
                "refusing a connection",
                {{"address", peer},
                 {"held_back", std::to_string(*held_back)}});
    socket.close(ignored);
  } else {
    socket.set_option(tcp::no_delay(true), ec);
    std::make_shared<http_session>(std::move(socket), ctx_, std::move(peer))
      ->run();
  }
  do_accept();
}

} // namespace jobwire
