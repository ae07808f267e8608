#include "net/heartbeat.hpp"

#include "net/session_set.hpp"
#include "net/ws_session.hpp"

namespace jobwire {

heartbeat::heartbeat(boost::asio::io_context& ioc, session_set& sessions,
                     unsigned period_seconds)
  : timer_(ioc), sessions_(sessions), period_(period_seconds) {
  // nop
}

void heartbeat::start() {
  next_ = std::chrono::steady_clock::now();
  schedule();
}

void heartbeat::stop() {
  stopped_ = true;
  timer_.cancel();
}

void heartbeat::schedule() {
  // From a fixed start, so a slow tick does not push the later ones back;
  // but after a stall (a paused VM, a debugger) the missed ticks are
  // skipped, not run back to back: that would ping each session twice
  // before it could answer, and drop it.
  next_ += std::chrono::seconds(1);
  auto now = std::chrono::steady_clock::now();
  if (next_ < now)
    next_ = now + std::chrono::seconds(1);
  timer_.expires_at(next_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopped_)
      on_tick();
  });
}

void heartbeat::on_tick() {
  auto slot = static_cast<uint32_t>(tick_++ % period_);
  for (auto& s : sessions_.in_slot(slot, period_))
    s->heartbeat_due();
  schedule();
}

} // namespace jobwire
