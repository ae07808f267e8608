#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace jobwire {

/// Counts what each client address holds (here: HTTP sessions), so that
/// one address cannot take a whole pool. Thread-safe; an address leaves
/// the map when its count is back to 0, so the map is bounded by what is
/// open.
class address_count {
public:
  /// Counts one more for `address` unless it already holds `limit`.
  bool try_add(const std::string& address, size_t limit) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto& n = counts_[address];
    if (n >= limit) {
      if (n == 0)
        counts_.erase(address);
      return false;
    }
    ++n;
    return true;
  }

  /// Counts one less for `address` (after a successful `try_add`).
  void remove(const std::string& address) {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = counts_.find(address);
    if (i != counts_.end() && --i->second == 0)
      counts_.erase(i);
  }

private:
  std::mutex mtx_;
  std::unordered_map<std::string, size_t> counts_;
};

} // namespace jobwire
