#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace jobwire {

/// A token bucket in 8 bytes for every WebSocket session: the rate and burst
/// are the server's, passed in, and time is kept in milliseconds of a
/// 32-bit clock (a gap of 49 days wraps and counts short: one pause more).
/// A general token_bucket (actors/) is 40 bytes, and every idle
/// connection would carry the difference.
class read_pacer {
public:
  /// Milliseconds of the steady clock, truncated: only differences count.
  static uint32_t now_ms() {
    auto t = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
  }

  read_pacer(float burst, uint32_t now) : tokens_(burst), last_(now) {
    // nop
  }

  /// Takes one read; false when none is left.
  bool take(uint32_t now, float rate, float burst) {
    // Unsigned: right across the clock's wrap.
    auto elapsed = static_cast<float>(now - last_);
    tokens_ = std::min(burst, tokens_ + elapsed * rate / 1000.0f);
    last_ = now;
    if (tokens_ < 1.0f)
      return false;
    tokens_ -= 1.0f;
    return true;
  }

private:
  float tokens_;
  uint32_t last_;
};

} // namespace jobwire
