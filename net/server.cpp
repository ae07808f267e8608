#include "net/server.hpp"

#include <chrono>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "messages/log.hpp"
#include "net/listener.hpp"

namespace jobwire {

namespace asio = boost::asio;

server::server(caf::actor_system& sys, directory_actor directory,
               registry_actor registry, delivery_actor delivery,
               server_settings settings)
  : ctx_{sys, directory, std::move(registry), std::move(delivery),
         job_api{sys, directory},
         std::move(settings), {}},
    ioc_(std::make_unique<asio::io_context>(
      static_cast<int>(ctx_.settings.io_threads))) {
  // nop
}

server::~server() {
  ioc_->stop();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
  listener_.reset();
  // Destroying the io_context destroys the sessions it still holds; each
  // tells its connection actor, which writes its record and quits.
  ioc_.reset();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (*ctx_.live_connections > 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

bool server::open(std::string& error) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(ctx_.settings.bind, ec);
  if (ec) {
    error = "invalid --bind address '" + ctx_.settings.bind + "'";
    return false;
  }
  listener_ = std::make_shared<listener>(*ioc_, ctx_);
  if (auto err = listener_->open({address, ctx_.settings.port})) {
    error = "cannot listen on " + ctx_.settings.bind + ":"
            + std::to_string(ctx_.settings.port) + ": " + err.message();
    return false;
  }
  return true;
}

uint16_t server::port() const {
  return listener_ ? listener_->port() : 0;
}

void server::run_until_signal() {
  auto guard = asio::make_work_guard(*ioc_);
  asio::signal_set signals{*ioc_, SIGINT, SIGTERM};
  asio::steady_timer drain{*ioc_};
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec)
      return;
    log::info("stopping", {{"signal", signo == SIGINT ? "SIGINT" : "SIGTERM"}});
    listener_->stop();
    ctx_.sessions.close_all(boost::beast::websocket::close_code::going_away,
                            "server shutting down");
    // Give the close frames a moment to leave, then stop the io threads.
    drain.expires_after(std::chrono::milliseconds(200));
    drain.async_wait([&](boost::system::error_code) {
      guard.reset();
      ioc_->stop();
    });
  });
  listener_->run();
  for (unsigned i = 1; i < ctx_.settings.io_threads; ++i)
    threads_.emplace_back([this] { ioc_->run(); });
  ioc_->run();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

} // namespace jobwire
