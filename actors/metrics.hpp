#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "messages/store_refusal.hpp"

namespace jobwire {

/// Counters and gauges for `GET /metrics`, updated lock-free from actors and
/// io threads alike. One per process: `metrics::global()`.
class metrics {
public:
  /// Upper bounds (seconds) of the publish-to-send latency buckets.
  static constexpr std::array<double, 12> latency_bounds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,   0.025,   0.05,   0.1,   0.5,    1.0};

  static metrics& global();

  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> subscriptions{0};
  std::atomic<int64_t> live_jobs{0};
  /// By event_type.
  std::array<std::atomic<uint64_t>, 5> events_published{};
  std::atomic<uint64_t> messages_delivered{0};
  std::atomic<uint64_t> delivery_retries{0};
  std::atomic<uint64_t> delivery_failures{0};
  std::atomic<uint64_t> coalesced_events{0};
  std::atomic<uint64_t> slow_consumer_closes{0};
  std::atomic<uint64_t> access_denied{0};

  /// Times gathered without atomics, for one `observe`.
  class latency_tally {
  public:
    void add(std::chrono::steady_clock::duration d);

  private:
    friend class metrics;
    std::array<uint64_t, latency_bounds.size() + 1> buckets_{};
    uint64_t sum_us_ = 0;
    uint64_t count_ = 0;
  };

  /// A latency histogram over `latency_bounds`.
  class histogram {
  public:
    /// A write of many frames touches each shared counter once, not per
    /// frame.
    void observe(const latency_tally& tally);
    void observe(std::chrono::steady_clock::duration d);
    uint64_t count() const {
      return count_.load();
    }

  private:
    friend class metrics;
    std::array<std::atomic<uint64_t>, latency_bounds.size() + 1> buckets_{};
    std::atomic<uint64_t> sum_us_{0};
    std::atomic<uint64_t> count_{0};
  };

  /// From the job actor taking an event (before it is stored) to its
  /// frame being written out.
  histogram publish_to_send;
  /// One LMDB commit of the registry, its syncs included.
  histogram commit;
  std::atomic<uint64_t> commit_writes{0};
  /// Records the store refused to write, and why the registry's last commit
  /// refused any (none: it took them all).
  std::atomic<uint64_t> refused_writes{0};
  std::atomic<store_refusal> store_refusing{store_refusal::none};
  /// Expired records removed, and removals the store refused (a full
  /// store: expiry then retries with fewer records at a time).
  std::atomic<uint64_t> expired_records{0};
  std::atomic<uint64_t> expiry_refusals{0};

  /// What `render` reports of the store.
  struct store_use {
    /// Bytes up to the last page written: LMDB's high-water mark.
    size_t used = 0;
    /// Of those, bytes of pages free for reuse.
    size_t free = 0;
    /// Bytes of the map.
    size_t size = 0;
    /// Records stored; left out of `render` when they could not be read.
    std::optional<size_t> jobs;
    std::optional<size_t> events;
    std::optional<size_t> connections;
  };

  void store_use_source(std::function<store_use()> f);

  /// The Prometheus text exposition of everything above.
  std::string render() const;

private:
  mutable std::mutex source_mtx_;
  std::function<store_use()> store_use_;
};

/// Adds one to a gauge for as long as it lives.
class gauge_guard {
public:
  explicit gauge_guard(std::atomic<int64_t>& g) : gauge_(&g) {
    ++*gauge_;
  }

  ~gauge_guard() {
    --*gauge_;
  }

  gauge_guard(const gauge_guard&) = delete;
  gauge_guard& operator=(const gauge_guard&) = delete;

private:
  std::atomic<int64_t>* gauge_;
};

} // namespace jobwire
