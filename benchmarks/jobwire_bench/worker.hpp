#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>

#include "jobwire_bench/histogram.hpp"
#include "jobwire_bench/job_table.hpp"
#include "jobwire_bench/net_util.hpp"
#include "jobwire_bench/options.hpp"

namespace jobwire::bench {

class ws_client;
class publisher;

/// Something that owns a socket in a worker's epoll set.
class io_handler {
public:
  virtual ~io_handler() = default;

  virtual void on_io(uint32_t events) = 0;
};

/// What every worker of a run shares; set up before the workers start,
/// read-only afterwards except for the atomics.
struct shared_run {
  const options* opt = nullptr;
  target server;
  job_table* jobs = nullptr;
  /// Extra loopback source addresses, for more than ~28k connections.
  std::vector<sockaddr_in> sources;
  /// Publishers send while this is set.
  std::atomic<bool> publishing{false};
  /// When publishing started (for --rate pacing).
  std::atomic<uint64_t> publish_start_ns{0};
  /// Events per second of one publisher connection; 0 = max.
  double rate_per_publisher = 0;
  /// Whether a publisher's acks of one job must be consecutive (it is the
  /// job's only publisher).
  bool one_publisher_per_job = false;

  const sockaddr_in* source_for(size_t index) const {
    return sources.empty() ? nullptr : &sources[index % sources.size()];
  }
};

/// Counters a worker writes and the main thread reads (see `bump`).
struct worker_counters {
  std::atomic<uint64_t> connected{0};
  std::atomic<uint64_t> connect_failed{0};
  std::atomic<uint64_t> subscribed{0};
  std::atomic<uint64_t> resumed{0};
  std::atomic<uint64_t> closed{0};
  std::atomic<uint64_t> server_closed{0};
  std::atomic<uint64_t> frames{0};
  std::atomic<uint64_t> bytes{0};
  /// Seqs covered by reading (not stalled) subscribers.
  std::atomic<uint64_t> events{0};
  std::atomic<uint64_t> stalled_events{0};
  std::atomic<uint64_t> error_frames{0};
  std::atomic<uint64_t> caught_up{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> publishers_up{0};
  std::atomic<uint64_t> publishers_failed{0};
};

/// One io thread: an epoll set with its share of the connections. The main
/// thread talks to it only through `post` and the counters.
class worker {
public:
  worker(size_t index, shared_run& run);
  ~worker();

  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  void start();

  /// Stops the thread and waits for it; the connections stay for
  /// inspection.
  void stop();

  /// Runs `fn` on the worker's thread.
  void post(std::function<void()> fn);

  /// Runs `fn` for each client on the worker's thread.
  void for_each_client(std::function<void(ws_client&)> fn);

  // -- for the connections (worker thread only) ------------------------------

  void watch(int fd, uint32_t events, io_handler* h);
  void rewatch(int fd, uint32_t events, io_handler* h);
  void forget(int fd);

  char* scratch() {
    return scratch_.data();
  }

  size_t scratch_size() const {
    return scratch_.size();
  }

  /// Connects `c` once fewer than the worker's share of
  /// --connect-concurrency handshakes are under way.
  void queue_connect(ws_client* c);

  /// A handshake of a queued connect ended (well or not).
  void connect_done();

  size_t index() const {
    return index_;
  }

  shared_run& run;
  worker_counters counters;
  histogram latency;
  histogram ack_latency;
  histogram connect_latency;
  histogram catch_up;
  std::vector<std::unique_ptr<ws_client>> clients;
  std::vector<std::unique_ptr<publisher>> publishers;

private:
  void loop();

  size_t index_;
  int epfd_ = -1;
  int wakefd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mtx_;
  std::vector<std::function<void()>> tasks_;
  std::deque<ws_client*> connect_queue_;
  size_t connecting_ = 0;
  size_t max_connecting_ = 1;
  std::vector<char> scratch_;
};

} // namespace jobwire::bench
