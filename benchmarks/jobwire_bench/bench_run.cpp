#include "jobwire_bench/bench_run.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <arpa/inet.h>
#include <signal.h>

#include "jobwire_bench/caf_link.hpp"
#include "jobwire_bench/caf_publisher.hpp"
#include "jobwire_bench/clock.hpp"
#include "jobwire_bench/frame_scan.hpp"
#include "jobwire_bench/http_publisher.hpp"
#include "jobwire_bench/proc_stats.hpp"
#include "jobwire_bench/ws_client.hpp"
#include "messages/descriptor_limit.hpp"

namespace jobwire::bench {

namespace {

/// Connections per source address 127.0.0.x: within jobwire's default
/// --max-connections-per-address (10,000) and the ~28k ephemeral ports.
constexpr size_t connections_per_source = 10000;

std::string fixed(double x, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, x);
  return buf;
}

double ms(uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

} // namespace

bench_run::bench_run(options opt) : opt_(std::move(opt)) {
  run_.opt = &opt_;
}

bench_run::~bench_run() {
  stop_workers();
}

// -- setup ----------------------------------------------------------------------

std::string bench_run::prepare() {
  if (auto err = resolve_target(opt_.host, opt_.port, run_.server);
      !err.empty())
    return err;
  if (!opt_.token.empty())
    run_.server.auth_header = "Authorization: Bearer " + opt_.token + "\r\n";
  if (opt_.cpu >= 0)
    if (auto err = pin_to_cpu(opt_.cpu); !err.empty())
      return err;
  if (opt_.nchan()) {
    // nginx answers anything; a reply at all says it is there.
    auto probe = http_request(run_.server, "GET", opt_.base_path + "/");
    if (!probe.error.empty())
      return "no nchan at " + opt_.url + ": " + probe.error
             + " (start nginx with benchmarks/nchan/nginx.conf)";
  } else if (auto health = http_request(run_.server, "GET", "/healthz");
             !health.error.empty()) {
    return "no jobwire at " + opt_.url + ": " + health.error
           + " (start it with: build/jobwire --port="
           + std::to_string(opt_.port) + ")";
  } else if (health.status != 200) {
    return "jobwire at " + opt_.url + " is not ready: GET /healthz gave "
           + std::to_string(health.status) + " " + health.body;
  } else {
    // A run whose subscribes or publishes are refused would only report
    // losses. An empty event is refused after the token is checked, and
    // stores nothing.
    for (auto [method, body] : {std::pair{"GET", ""}, std::pair{"POST", "{}"}}) {
      auto probe = http_request(run_.server, method,
                                std::string{"/v1/jobs/bench-token-probe"}
                                  + (*body ? "/events" : ""),
                                body);
      if (probe.status == 401 || probe.status == 403)
        return "jobwire at " + opt_.url + " refused "
               + (opt_.token.empty() ? std::string{"a request without a token"}
                                     : std::string{"--token"})
               + " (" + std::to_string(probe.status) + " " + probe.body
               + "): give --token=JWT with view and publish on bench-*";
    }
  }
  server_pid_ = opt_.server_pid;
  if (server_pid_ == 0 && run_.server.loopback)
    server_pid_ = find_listener_pid(opt_.port);
  // Figures of one process measured against another are worse than none:
  // a server left from an earlier run still holds the port, say.
  if (opt_.server_pid != 0) {
    auto pid = std::to_string(opt_.server_pid);
    if (::kill(opt_.server_pid, 0) != 0 && errno == ESRCH)
      return "--server-pid=" + pid + " is not running, yet " + opt_.url
             + " answers: another server holds the port";
    if (run_.server.loopback
        && listens_on(opt_.server_pid, opt_.port) == false) {
      auto holder = find_listener_pid(opt_.port);
      return "--server-pid=" + pid + " does not listen on port "
             + std::to_string(opt_.port) + "; "
             + (holder != 0 ? "pid " + std::to_string(holder) + " does"
                            : std::string{"another process does"})
             + " (a server left from an earlier run?)";
    }
  }
  // Descriptors: every client and publisher, and some to spare.
  auto need = opt_.connections + opt_.publishers + 64;
  auto fds = raise_descriptor_limit();
  size_t limit = fds ? fds->now : 1024;
  if (need > limit)
    return "this run needs " + std::to_string(need)
           + " file descriptors but may open " + std::to_string(limit)
           + ": raise the hard limit (`ulimit -n " + std::to_string(need)
           + "` as root, or /etc/security/limits.conf), and the server's too";
  if (run_.server.loopback && opt_.connections > connections_per_source) {
    auto count = (opt_.connections + connections_per_source - 1)
                 / connections_per_source;
    for (size_t i = 0; i < count; ++i) {
      sockaddr_in src{};
      src.sin_family = AF_INET;
      src.sin_addr.s_addr = htonl((127u << 24) | static_cast<uint32_t>(2 + i));
      run_.sources.push_back(src);
    }
  }
  if (opt_.via_caf() && opt_.scenario != "capacity") {
    std::string err;
    caf_ = caf_link::open(opt_.host, opt_.caf_port, err);
    if (!caf_)
      return err;
  }
  for (size_t i = 0; i < opt_.threads; ++i)
    workers_.push_back(std::make_unique<worker>(i, run_));
  return {};
}

void bench_run::make_jobs(size_t count, bool flow_control) {
  // Fresh job ids each run: a job's seqs then start at 1.
  std::string prefix = "bench-" + opt_.scenario + "-"
                       + std::to_string(::getpid()) + "-"
                       + std::to_string(std::time(nullptr)) + "-";
  auto lag = flow_control ? opt_.max_lag : 0;
  if (opt_.nchan())
    jobs_ = std::make_unique<job_table>(count, prefix, run_.server.host_header,
                                        run_.server.auth_header, lag, opt_.base_path + "/pub/", "");
  else
    jobs_ = std::make_unique<job_table>(count, prefix, run_.server.host_header,
                                        run_.server.auth_header, lag, "/v1/jobs/", "/events");
  run_.jobs = jobs_.get();
}

ws_client* bench_run::add_client(job_slot* job, bool stalled) {
  auto i = clients_.size();
  auto& w = *workers_[i % workers_.size()];
  w.clients.push_back(std::make_unique<ws_client>(w, i, job, stalled));
  clients_.push_back(w.clients.back().get());
  return clients_.back();
}

ws_client* bench_run::add_client_live(job_slot* job) {
  auto i = clients_.size();
  auto& w = *workers_[i % workers_.size()];
  auto* c = new ws_client(w, i, job, false);
  clients_.push_back(c);
  return c;
}

publisher* bench_run::add_publisher(std::vector<job_slot*> jobs) {
  auto i = publishers_.size();
  auto& w = *workers_[i % workers_.size()];
  if (caf_)
    w.publishers.push_back(
      std::make_unique<caf_publisher>(w, i, std::move(jobs), *caf_));
  else
    w.publishers.push_back(
      std::make_unique<http_publisher>(w, i, std::move(jobs)));
  publishers_.push_back(w.publishers.back().get());
  return publishers_.back();
}

void bench_run::start_workers() {
  for (auto& w : workers_)
    w->start();
  workers_running_ = true;
}

void bench_run::stop_workers() {
  if (!workers_running_)
    return;
  for (auto& w : workers_)
    w->stop();
  workers_running_ = false;
}

void bench_run::connect_clients() {
  for (auto& w : workers_) {
    auto* wp = w.get();
    wp->post([wp] {
      for (auto& c : wp->clients)
        if (c->state == ws_client::phase::idle)
          wp->queue_connect(c.get());
    });
  }
}

void bench_run::connect_publishers() {
  for (auto& w : workers_) {
    auto* wp = w.get();
    wp->post([wp] {
      for (auto& p : wp->publishers)
        p->connect();
    });
  }
}

// -- observing ------------------------------------------------------------------

totals bench_run::sum() const {
  totals t;
  auto get = [](const std::atomic<uint64_t>& x) {
    return x.load(std::memory_order_acquire);
  };
  for (auto& w : workers_) {
    auto& c = w->counters;
    t.connected += get(c.connected);
    t.connect_failed += get(c.connect_failed);
    t.subscribed += get(c.subscribed);
    t.resumed += get(c.resumed);
    t.closed += get(c.closed);
    t.server_closed += get(c.server_closed);
    t.frames += get(c.frames);
    t.bytes += get(c.bytes);
    t.events += get(c.events);
    t.stalled_events += get(c.stalled_events);
    t.error_frames += get(c.error_frames);
    t.caught_up += get(c.caught_up);
    t.published += get(c.published);
    t.acked += get(c.acked);
    t.refused += get(c.refused);
    t.in_flight += get(c.in_flight);
    t.publishers_up += get(c.publishers_up);
    t.publishers_failed += get(c.publishers_failed);
  }
  return t;
}

void bench_run::progress(const char* phase, bool force) {
  auto now = now_ns();
  if (opt_.quiet || (!force && now - last_progress_ns_ < 1000000000u))
    return;
  auto t = sum();
  auto dt = last_progress_ns_ == 0 ? 0.0 : seconds_between(last_progress_ns_, now);
  auto rate = [&](uint64_t now_v, uint64_t before) {
    return dt > 0.5 ? grouped(static_cast<double>(now_v - before) / dt) : "-";
  };
  std::fprintf(stderr,
               "[%7.1fs] %-12s conns %s up, %s failed, %s closed | acked "
               "%s/s | delivered %s/s | frames %s/s | in flight %s\n",
               seconds_between(started_ns_, now), phase,
               grouped(static_cast<double>(t.connected)).c_str(),
               grouped(static_cast<double>(t.connect_failed)).c_str(),
               grouped(static_cast<double>(t.closed)).c_str(),
               rate(t.acked, last_progress_.acked).c_str(),
               rate(t.events, last_progress_.events).c_str(),
               rate(t.frames, last_progress_.frames).c_str(),
               grouped(static_cast<double>(t.in_flight)).c_str());
  last_progress_ns_ = now;
  last_progress_ = t;
}

bool bench_run::wait_for(const char* phase, double timeout_s,
                         const std::function<bool(const totals&)>& done) {
  auto deadline = now_ns() + static_cast<uint64_t>(timeout_s * 1e9);
  for (;;) {
    if (done(sum()))
      return true;
    if (now_ns() > deadline)
      return false;
    progress(phase);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bench_run::metrics_map bench_run::server_metrics() {
  metrics_map out;
  if (opt_.nchan())
    return out;
  auto res = http_request(run_.server, "GET", "/metrics");
  if (res.status != 200)
    return out;
  std::istringstream in{res.body};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#')
      continue;
    auto name_end = line.find_first_of(" {");
    auto value_start = line.rfind(' ');
    if (name_end == std::string::npos || value_start == std::string::npos)
      continue;
    out[line.substr(0, name_end)] += std::atof(line.c_str() + value_start + 1);
  }
  return out;
}

std::optional<double> bench_run::server_cpu() {
  if (server_pid_ == 0)
    return std::nullopt;
  return read_cpu_seconds(server_pid_);
}

bench_run::window
bench_run::publish_for(double seconds,
                       const std::function<bool(const totals&)>& done) {
  window w;
  auto cpu0 = own_cpu_seconds();
  auto scpu0 = server_cpu();
  auto all0 = machine_busy_seconds();
  w.before = sum();
  auto t0 = now_ns();
  run_.publish_start_ns.store(t0, std::memory_order_relaxed);
  run_.publishing.store(true, std::memory_order_release);
  auto end = t0 + static_cast<uint64_t>(seconds * 1e9);
  for (;;) {
    auto now = now_ns();
    auto t = sum();
    if (now >= end || (done && done(t)))
      break;
    // Nobody left to publish (the server went away): the rest of the
    // duration would only measure nothing.
    if (!publishers_.empty() && t.publishers_failed >= publishers_.size()) {
      progress("publishing", true);
      std::fprintf(stderr, "jobwire-bench: every publisher failed after "
                           "%.1f s; stopping\n",
                   seconds_between(t0, now));
      break;
    }
    progress("publishing");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  w.after = sum();
  auto t1 = now_ns();
  run_.publishing.store(false, std::memory_order_release);
  w.seconds = seconds_between(t0, t1);
  auto own = own_cpu_seconds() - cpu0;
  w.bench_cpu = own / w.seconds;
  auto all = machine_busy_seconds() - all0;
  if (auto scpu1 = server_cpu(); scpu0 && scpu1) {
    w.server_cpu = (*scpu1 - *scpu0) / w.seconds;
    w.others_cpu = std::max(0.0, (all - own - (*scpu1 - *scpu0)) / w.seconds);
  }
  return w;
}

// -- run ----------------------------------------------------------------------------

int bench_run::run() {
  started_ns_ = now_ns();
  if (auto err = prepare(); !err.empty()) {
    std::fprintf(stderr, "jobwire-bench: %s\n", err.c_str());
    return 2;
  }
  report r;
  r.scenario = opt_.scenario;
  r.url = opt_.url;
  // How busy the machine is before we add to it.
  auto idle0 = machine_busy_seconds();
  auto idle_t0 = now_ns();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto busy_before = (machine_busy_seconds() - idle0)
                     / seconds_between(idle_t0, now_ns());
  if (opt_.scenario == "capacity")
    capacity(r);
  else if (opt_.scenario == "persistence")
    persistence(r);
  else if (opt_.scenario == "reconnect")
    reconnect(r);
  else
    traffic(r);
  stop_workers();
  r.add("busy_before_pct", "machine CPU busy just before (% of one core)",
        busy_before * 100, "%", 0);
  if (busy_before > 0.15)
    r.note("the machine was already busy before the run ("
           + fixed(busy_before * 100, 0) + "% of a core, "
           + std::to_string(std::thread::hardware_concurrency())
           + " CPUs): other processes competed for the CPUs");
  r.print(stdout);
  if (!opt_.json.empty())
    if (auto err = r.write_json(opt_.json); !err.empty()) {
      std::fprintf(stderr, "jobwire-bench: %s\n", err.c_str());
      return 2;
    }
  return r.verified.ok() ? 0 : 1;
}

// -- checks -------------------------------------------------------------------------

void bench_run::verify_clients(
  report& r, const std::function<uint64_t(const ws_client&)>& last,
  const std::vector<ws_client*>& which) {
  auto& v = r.verified;
  size_t closed_1013 = 0;
  for (auto* c : which) {
    auto& ch = c->check;
    auto who = "connection " + (c->connection_id.empty() ? "#" : c->connection_id);
    if (!c->failure.empty())
      v.problem(who + ": " + c->failure);
    v.events += ch.received;
    v.out_of_order += ch.out_of_order;
    v.duplicates += ch.duplicates;
    v.missing += ch.missing;
    if (ch.misplaced > 0)
      v.problem(who + ": " + std::to_string(ch.misplaced)
                + " unexpected frames (first: " + ch.first_error + ")");
    if (ch.error_frames > 0)
      v.problem(who + ": " + std::to_string(ch.error_frames)
                + " error frames (first: " + ch.first_error + ")");
    if (ch.missing > 0)
      v.problem(who + ": " + std::to_string(ch.missing)
                + " seqs skipped without `coalesced`");
    if (c->stalled) {
      v.coalesced += ch.coalesced;
      // A stalled client may be closed (1013 once its close frame gets
      // through, else just the end of the stream); it would resume.
      if (c->server_closed) {
        ++closed_1013;
      } else if (c->job != nullptr && ch.last < last(*c)) {
        v.problem(who + " (stalled) neither caught up (at seq "
                  + std::to_string(ch.last) + " of " + std::to_string(last(*c))
                  + ") nor was closed with 1013");
      }
      continue;
    }
    if (ch.coalesced > 0) {
      v.missing += ch.coalesced;
      v.problem(who + ": " + std::to_string(ch.coalesced)
                + " events coalesced away although it kept reading (the "
                  "server treated it as a slow consumer; lower --max-lag)");
    }
    if (c->server_closed)
      v.problem(who + ": closed by the server ("
                + (c->close_code == 0
                     ? std::string{"the connection dropped without a close "
                                   "frame"}
                     : "code " + std::to_string(c->close_code) + " "
                         + c->close_reason)
                + ")");
    if (c->job != nullptr) {
      auto want = last(*c);
      if (ch.last < want) {
        v.missing += want - ch.last;
        v.problem(who + ": stopped at seq " + std::to_string(ch.last)
                  + " of " + std::to_string(want) + " (job " + c->job->id
                  + ")");
      }
    }
  }
  if (closed_1013 > 0)
    r.note(std::to_string(closed_1013)
           + " stalled clients were closed by the server (slow consumer, "
             "1013), as the protocol allows; they would resume");
}

void bench_run::verify_jobs(report& r) {
  auto& v = r.verified;
  for (size_t i = 0; i < jobs_->size(); ++i) {
    auto& j = (*jobs_)[i];
    auto acked = j.acked.load();
    auto max = j.acked_max.load();
    auto sum = j.acked_sum.load();
    if (acked != max || sum != max * (max + 1) / 2)
      v.problem("job " + j.id + ": " + std::to_string(acked)
                + " publishes acknowledged, but the seqs are not exactly 1.."
                + std::to_string(max));
  }
}

void bench_run::verify_publishers(report& r) {
  auto& v = r.verified;
  for (auto* p : publishers_) {
    if (!p->failure.empty())
      v.problem("publisher: " + p->failure);
    if (p->refused > 0)
      v.problem("publisher: " + std::to_string(p->refused)
                + " publishes refused (first: " + p->first_refusal + ")");
    if (p->non_consecutive > 0)
      v.problem("publisher: " + std::to_string(p->non_consecutive)
                + " acknowledged seqs did not follow the previous one");
  }
}

void bench_run::add_server_deltas(report& r, const metrics_map& before,
                                  const metrics_map& after) {
  if (opt_.nchan()) {
    r.note("nchan has no jobwire /metrics: no server-side counters");
    return;
  }
  if (after.empty()) {
    r.note("GET /metrics failed: no server-side counters");
    return;
  }
  auto delta = [&](const char* name) {
    auto a = after.find(name);
    auto b = before.find(name);
    return (a == after.end() ? 0.0 : a->second)
           - (b == before.end() ? 0.0 : b->second);
  };
  r.add("server_messages_delivered", "server: messages delivered",
        delta("jobwire_messages_delivered_total"));
  r.add("server_coalesced", "server: events coalesced",
        delta("jobwire_coalesced_events_total"));
  r.add("server_slow_consumer_closes", "server: slow-consumer closes",
        delta("jobwire_slow_consumer_closes_total"));
  r.add("server_delivery_retries", "server: delivery retries",
        delta("jobwire_delivery_retries_total"));
  r.add("server_delivery_failures", "server: delivery failures",
        delta("jobwire_delivery_failures_total"));
}

void bench_run::add_cpu(report& r, const window& w) {
  r.add("bench_cpu_pct", "benchmark CPU (% of one core)", w.bench_cpu * 100,
        "%", 0);
  if (w.bench_cpu > 0.9)
    r.note("the benchmark used " + fixed(w.bench_cpu * 100, 0)
           + "% of a core: this figure may be the benchmark's limit; try "
             "--threads=2 where there are cores to spare");
  if (w.server_cpu) {
    r.add("server_cpu_pct", "server CPU (% of one core)", *w.server_cpu * 100,
          "%", 0);
    if (*w.server_cpu > 0.9)
      r.note("the server used " + fixed(*w.server_cpu * 100, 0)
             + "% of a core: it is CPU-bound here");
  } else {
    r.note("server CPU and memory unknown: pass --server-pid=PID");
  }
  if (w.others_cpu) {
    r.add("others_cpu_pct", "other processes' CPU (% of one core)",
          *w.others_cpu * 100, "%", 0);
    if (*w.others_cpu > 0.15)
      r.note("other processes used " + fixed(*w.others_cpu * 100, 0)
             + "% of a core during the run: they competed with the server "
               "and the benchmark, and the figures are lower than they "
               "would be");
  }
}

void bench_run::add_latency(report& r, const std::string& key,
                            const std::string& label, const histogram& h) {
  if (h.count() == 0)
    return;
  r.add(key + "_p50_ms", label + " p50", ms(h.percentile(50)), "ms", 2);
  r.add(key + "_p99_ms", label + " p99", ms(h.percentile(99)), "ms", 2);
  r.add(key + "_p999_ms", label + " p99.9", ms(h.percentile(99.9)), "ms", 2);
  r.add(key + "_max_ms", label + " max", ms(h.max()), "ms", 2);
}

} // namespace jobwire::bench
