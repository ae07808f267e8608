#include "net/server.hpp"

#include <chrono>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "messages/log.hpp"
#include "net/heartbeat.hpp"
#include "net/listener.hpp"
#include "net/ws_session.hpp"

namespace jobwire {

namespace asio = boost::asio;

server::server(caf::actor_system& sys, directory_actor directory,
               registry_actor registry, delivery_actor delivery,
               server_settings settings)
  : ctx_{.sys = sys,
         .directory = directory,
         .registry = std::move(registry),
         .delivery = std::move(delivery),
         .api = job_api{sys, directory},
         .settings = std::move(settings)},
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
  heartbeat_.reset(); // its timer belongs to the io_context
  ctx_.gate->close();
  ctx_.api.stop();
  ctx_.sessions.for_each([](ws_session& s) { s.abandon(); });
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

void server::run_until_signal(const std::function<void()>& ready) {
  auto guard = asio::make_work_guard(*ioc_);
  // SIGHUP too: a closed terminal stops the server cleanly, not by the
  // default action's kill.
  asio::signal_set signals{*ioc_, SIGINT, SIGTERM, SIGHUP};
  asio::steady_timer drain{*ioc_};
  std::function<void()> wait_for_drain;
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec)
      return;
    log::info("draining", {{"signal", signo == SIGINT    ? "SIGINT"
                                      : signo == SIGHUP ? "SIGHUP"
                                                        : "SIGTERM"},
                           {"sessions", std::to_string(ctx_.sessions.size())}});
    // The listener stays open: load balancers see /healthz answer 503,
    // and new WebSocket clients get a 503 to retry against, not a refusal.
    ctx_.draining = true;
    heartbeat_->stop();
    ctx_.sessions.for_each([this](ws_session& s) {
      s.drain(ctx_.settings.resume_after_ms);
    });
    auto deadline = std::chrono::steady_clock::now() + ctx_.settings.drain;
    // Wait until every client has had its queued frames, hint and close
    // (or the deadline), then stop the io threads.
    wait_for_drain = [&, deadline] {
      if (ctx_.sessions.size() == 0
          || std::chrono::steady_clock::now() >= deadline) {
        if (ctx_.sessions.size() > 0)
          log::warn("drain deadline passed",
                    {{"sessions", std::to_string(ctx_.sessions.size())}});
        guard.reset();
        ioc_->stop();
        return;
      }
      drain.expires_after(std::chrono::milliseconds(20));
      drain.async_wait([&](boost::system::error_code) { wait_for_drain(); });
    };
    wait_for_drain();
  });
  listener_->run();
  heartbeat_ = std::make_unique<heartbeat>(
    *ioc_, ctx_.sessions, ctx_.settings.connection.heartbeat_seconds);
  heartbeat_->start();
  for (unsigned i = 1; i < ctx_.settings.io_threads; ++i)
    threads_.emplace_back([this] { ioc_->run(); });
  ready();
  ioc_->run();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

} // namespace jobwire
