#pragma once

#include <chrono>
#include <cstdint>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace jobwire {

class session_set;

/// Pings every WebSocket session once per period from one timer: each
/// second, the sessions of that second's slot are told their heartbeat is
/// due. One timer for all, not one per connection (120 bytes and a
/// pending wait each), and the pings of many connections spread over the
/// period.
class heartbeat {
public:
  heartbeat(boost::asio::io_context& ioc, session_set& sessions,
            unsigned period_seconds);

  void start();

  void stop();

private:
  void schedule();
  void on_tick();

  boost::asio::steady_timer timer_;
  session_set& sessions_;
  unsigned period_;
  uint64_t tick_ = 0;
  std::chrono::steady_clock::time_point next_;
  bool stopped_ = false;
};

} // namespace jobwire
