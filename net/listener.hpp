#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "messages/log_throttle.hpp"
#include "net/server_context.hpp"

namespace jobwire {

/// Accepts TCP connections and starts an http_session for each, every
/// socket on a strand of its own when there are several io threads.
class listener : public std::enable_shared_from_this<listener> {
public:
  listener(boost::asio::io_context& ioc, server_context& ctx);

  /// Binds and listens; returns the error, if any.
  boost::system::error_code
  open(const boost::asio::ip::tcp::endpoint& endpoint);

  uint16_t port() const;

  /// Accepts until the io_context stops (also through a drain, whose
  /// refusals net/ answers).
  void run();

private:
  void do_accept();
  void on_accept(boost::system::error_code ec,
                 boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  server_context& ctx_;
  /// Waits before accepting again after a failed accept.
  boost::asio::steady_timer pause_;
  /// Refusals come in floods: a log line per ten seconds of each kind.
  log::throttle accept_failures_{std::chrono::seconds{10}};
  log::throttle too_many_sessions_{std::chrono::seconds{10}};
  log::throttle too_many_from_address_{std::chrono::seconds{10}};
  log::throttle out_of_descriptors_{std::chrono::seconds{10}};
};

} // namespace jobwire
