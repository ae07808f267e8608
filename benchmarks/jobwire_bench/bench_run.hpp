#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "jobwire_bench/job_table.hpp"
#include "jobwire_bench/options.hpp"
#include "jobwire_bench/report.hpp"
#include "jobwire_bench/worker.hpp"

namespace jobwire::bench {

class ws_client;
class publisher;
class caf_link;

/// The workers' counters, summed.
struct totals {
  uint64_t connected = 0;
  uint64_t connect_failed = 0;
  uint64_t subscribed = 0;
  uint64_t resumed = 0;
  uint64_t closed = 0;
  uint64_t server_closed = 0;
  uint64_t frames = 0;
  uint64_t bytes = 0;
  uint64_t events = 0;
  uint64_t stalled_events = 0;
  uint64_t error_frames = 0;
  uint64_t caught_up = 0;
  uint64_t published = 0;
  uint64_t acked = 0;
  uint64_t refused = 0;
  uint64_t in_flight = 0;
  uint64_t publishers_up = 0;
  uint64_t publishers_failed = 0;
};

/// One run of one scenario: sets up the workers, drives the phases from
/// the main thread, checks what arrived and reports.
class bench_run {
public:
  explicit bench_run(options opt);
  ~bench_run();

  /// 0: done and verified; 1: something was lost; 2: could not run.
  int run();

private:
  using metrics_map = std::map<std::string, double>;

  // -- setup ------------------------------------------------------------------

  std::string prepare();
  void make_jobs(size_t count, bool flow_control);
  ws_client* add_client(job_slot* job, bool stalled);
  /// Adds a client while the workers run.
  ws_client* add_client_live(job_slot* job);
  publisher* add_publisher(std::vector<job_slot*> jobs);
  void start_workers();
  void stop_workers();
  void connect_clients();
  void connect_publishers();

  // -- observing ----------------------------------------------------------------

  totals sum() const;
  bool wait_for(const char* phase, double timeout_s,
                const std::function<bool(const totals&)>& done);
  void progress(const char* phase, bool force = false);
  metrics_map server_metrics();
  std::optional<double> server_cpu();

  /// Publishes for --duration (or until `done`), printing progress; fills
  /// the window figures.
  struct window {
    double seconds = 0;
    totals before, after;
    double bench_cpu = 0;
    std::optional<double> server_cpu;
    /// CPU the rest of the machine used meanwhile (fraction of one core).
    std::optional<double> others_cpu;
  };
  window publish_for(double seconds,
                     const std::function<bool(const totals&)>& done = {});

  // -- scenarios ------------------------------------------------------------------

  void traffic(report& r);
  void capacity(report& r);
  void persistence(report& r);
  void reconnect(report& r);

  // -- checks -------------------------------------------------------------------

  void verify_clients(report& r,
                      const std::function<uint64_t(const ws_client&)>& last,
                      const std::vector<ws_client*>& which);
  void verify_jobs(report& r);
  void verify_publishers(report& r);
  void add_server_deltas(report& r, const metrics_map& before,
                         const metrics_map& after);
  void add_cpu(report& r, const window& w);
  void add_latency(report& r, const std::string& key,
                   const std::string& label, const histogram& h);

  options opt_;
  shared_run run_;
  /// Before the workers: their CAF publishers' relays go first.
  std::unique_ptr<caf_link> caf_;
  std::unique_ptr<job_table> jobs_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<ws_client*> clients_;
  std::vector<publisher*> publishers_;
  int server_pid_ = 0;
  uint64_t started_ns_ = 0;
  uint64_t last_progress_ns_ = 0;
  totals last_progress_;
  bool workers_running_ = false;
};

} // namespace jobwire::bench
