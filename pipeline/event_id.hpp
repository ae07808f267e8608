#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace jobwire::pipeline {

/// Makes the `event_id`s a publisher attaches to its events: a prefix of 16
/// lowercase hex digits drawn once from the OS's random device, a dash and a
/// counter (`9f86d081884c7d65-1`, `9f86d081884c7d65-2`, ...). Ids from one
/// source never repeat; ids from different sources (processes) collide only
/// if their 64-bit prefixes do. Thread-safe.
class event_id_source {
public:
  // -- constructors, destructors ---------------------------------------------

  /// Draws a fresh random prefix.
  event_id_source() : prefix_(random_prefix()) {
    // nop
  }

  /// Uses `prefix` as is (for tests).
  explicit event_id_source(std::string prefix) : prefix_(std::move(prefix)) {
    // nop
  }

  event_id_source(const event_id_source&) = delete;
  event_id_source& operator=(const event_id_source&) = delete;

  // -- properties -------------------------------------------------------------

  /// The part every id of this source starts with.
  const std::string& prefix() const {
    return prefix_;
  }

  /// A new id, never returned before by this source.
  std::string next() {
    auto n = counter_.fetch_add(1, std::memory_order_relaxed) + 1;
    std::string result;
    result.reserve(prefix_.size() + 21);
    result += prefix_;
    result += '-';
    result += std::to_string(n);
    return result;
  }

  /// 16 lowercase hex digits from `std::random_device`.
  static std::string random_prefix() {
    std::random_device rd;
    uint64_t bits = (static_cast<uint64_t>(rd()) << 32) ^ rd();
    constexpr std::string_view digits = "0123456789abcdef";
    std::string result(16, '0');
    for (auto i = result.size(); i > 0; --i) {
      result[i - 1] = digits[bits & 0xF];
      bits >>= 4;
    }
    return result;
  }

private:
  std::string prefix_;
  std::atomic<uint64_t> counter_{0};
};

} // namespace jobwire::pipeline
