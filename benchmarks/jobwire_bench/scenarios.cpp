// The six scenarios; bench_run.cpp has the machinery they share.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "jobwire_bench/bench_run.hpp"
#include "jobwire_bench/clock.hpp"
#include "jobwire_bench/frame_scan.hpp"
#include "jobwire_bench/http_publisher.hpp"
#include "jobwire_bench/proc_stats.hpp"
#include "jobwire_bench/ws_client.hpp"

namespace jobwire::bench {

namespace {

std::string fmt(double x, int precision = 0) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", precision, x);
  return buf;
}

std::string rate_text(double rate) {
  return rate > 0 ? fmt(rate) + "/s" : "max";
}

/// Seconds to allow for connecting `n` clients.
double connect_timeout(size_t n) {
  return 30.0 + static_cast<double>(n) / 200.0;
}

} // namespace

// -- fanout, many-jobs, stalled ------------------------------------------------------

void bench_run::traffic(report& r) {
  auto& o = opt_;
  auto& v = r.verified;
  auto n = o.connections;
  auto k = o.jobs;
  make_jobs(k, true);
  // Stalled clients spread evenly: client i stalls when the running count
  // floor(i * f) steps up.
  size_t stalled_count = 0;
  for (size_t i = 0; i < n; ++i) {
    auto& job = (*jobs_)[i % k];
    bool stalled = o.stalled > 0
                   && std::floor((i + 1) * o.stalled)
                        > std::floor(i * o.stalled);
    if (stalled)
      ++stalled_count;
    else
      ++job.readers;
    auto* c = add_client(&job, stalled);
    c->subscribe_on_connect = true;
    // What a stalled client gets late says nothing about the server.
    c->record_latency = !stalled;
  }
  for (size_t p = 0; p < o.publishers; ++p) {
    std::vector<job_slot*> mine;
    for (size_t j = 0; j < k; ++j)
      if (k < o.publishers || j % o.publishers == p)
        mine.push_back(&(*jobs_)[j]);
    add_publisher(std::move(mine));
  }
  run_.rate_per_publisher = o.rate / static_cast<double>(o.publishers);
  if (o.nchan())
    r.param("target", o.target);
  r.param("connections", std::to_string(n));
  r.param("jobs", std::to_string(k));
  r.param("publishers", std::to_string(o.publishers));
  r.param("window", std::to_string(o.window));
  r.param("via", o.publish_via);
  r.param("rate", rate_text(o.rate));
  r.param("duration", fmt(o.duration, 1) + "s");
  r.param("payload", std::to_string(o.payload_bytes) + "B");
  r.param("max-lag", o.max_lag ? std::to_string(o.max_lag) : "none");
  if (o.scenario == "stalled")
    r.param("stalled", fmt(o.stalled * 100, 1) + "% (" + std::to_string(stalled_count) + ")");
  r.param("threads", std::to_string(o.threads));

  start_workers();
  auto t_connect = now_ns();
  connect_clients();
  bool up = wait_for("subscribing", connect_timeout(n), [&](const totals& t) {
    return t.subscribed + t.connect_failed + t.closed >= n;
  });
  auto connect_s = seconds_between(t_connect, now_ns());
  auto t = sum();
  if (!up || t.subscribed < n) {
    v.problem(std::to_string(n - t.subscribed) + " of " + std::to_string(n)
              + " clients did not get to `subscribed` ("
              + std::to_string(t.connect_failed) + " failed to connect)");
    stop_workers();
    verify_clients(r, [](const ws_client&) { return 0; }, clients_);
    return;
  }
  r.add("connect_subscribe_s", "connect + subscribe " + std::to_string(n)
                                 + " clients",
        connect_s, "s", 2);
  connect_publishers();
  wait_for("publishers", 10, [&](const totals& t) {
    return t.publishers_up + t.publishers_failed >= o.publishers;
  });
  auto metrics0 = server_metrics();
  auto w = publish_for(o.duration);
  progress("publishing", true);
  // Let what was published arrive: every reader up to its job's last seq.
  wait_for("finishing", 30, [](const totals& t) { return t.in_flight == 0; });
  auto t_drain = now_ns();
  bool drained = wait_for("draining", o.drain_timeout, [&](const totals& t) {
    return t.events >= jobs_->expected_deliveries() || t.closed >= n;
  });
  auto drain_s = seconds_between(t_drain, now_ns());
  if (stalled_count > 0) {
    // The stalled clients read again: what they get must be in order, gaps
    // only where progress_updates were coalesced.
    auto base = sum().caught_up;
    auto closed_before = sum().closed;
    for (auto& wk : workers_)
      wk->for_each_client([](ws_client& c) {
        if (!c.stalled)
          return;
        c.check.target = c.job->acked_max.load();
        c.check.target_set_ns = now_ns();
        if (c.check.last >= c.check.target) {
          c.check.caught_up = true;
          return;
        }
        c.start_reading();
      });
    wait_for("stalled", std::min(o.drain_timeout, 10.0),
             [&](const totals& t) {
               return t.caught_up - base + (t.closed - closed_before)
                      >= stalled_count;
             });
  }
  auto metrics1 = server_metrics();
  stop_workers();

  // Figures.
  auto delivered = static_cast<double>(w.after.events - w.before.events);
  auto acked = static_cast<double>(w.after.acked - w.before.acked);
  r.add("deliveries_per_s", "deliveries/s (to reading subscribers)",
        delivered / w.seconds);
  r.add("events_per_s", "events acknowledged/s", acked / w.seconds);
  if (o.rate > 0)
    r.add("target_rate", "target rate", o.rate, "events/s");
  r.add("publish_seconds", "publishing time", w.seconds, "s", 2);
  r.add("drain_seconds", "drain after publishing", drain_s, "s", 2);
  histogram lat, ack;
  for (auto& wk : workers_) {
    lat.merge(wk->latency);
    ack.merge(wk->ack_latency);
  }
  add_latency(r, "latency", "end-to-end latency", lat);
  add_latency(r, "ack", "publish ack latency", ack);
  auto frames = static_cast<double>(w.after.frames - w.before.frames);
  auto bytes = static_cast<double>(w.after.bytes - w.before.bytes);
  if (frames > 0)
    r.add("frame_bytes", "bytes per frame received (with headers)",
          bytes / frames);
  r.add("receive_mib_per_s", "received MiB/s", bytes / w.seconds / 1048576.0,
        "MiB/s", 1);
  add_cpu(r, w);
  add_server_deltas(r, metrics0, metrics1);
  if (o.rate == 0 && lat.count() > 0)
    r.note("at --rate=0 (max) the latency is mostly queueing in the "
           "server; measure latency at a --rate below the maximum");
  if (!drained)
    r.note("the readers did not catch up within --drain-timeout="
           + fmt(o.drain_timeout) + "s");
  if (o.rate > 0 && acked / w.seconds < 0.95 * o.rate)
    r.note("published " + fmt(acked / w.seconds) + "/s of the "
           + fmt(o.rate) + "/s asked for: the server (or --max-lag, "
             "--window) held the publishers back");
  if (stalled_count > 0) {
    r.add("stalled_clients", "stalled clients", static_cast<double>(stalled_count));
    uint64_t stalled_events = 0, coalesced = 0;
    for (auto* c : clients_)
      if (c->stalled) {
        stalled_events += c->check.received;
        coalesced += c->check.coalesced;
      }
    r.add("stalled_events", "events the stalled clients got",
          static_cast<double>(stalled_events));
    r.add("stalled_coalesced", "events coalesced for stalled clients",
          static_cast<double>(coalesced));
  }
  verify_publishers(r);
  verify_jobs(r);
  verify_clients(r, [](const ws_client& c) { return c.job->acked_max.load(); },
                 clients_);
}

// -- capacity -------------------------------------------------------------------------

void bench_run::capacity(report& r) {
  auto& o = opt_;
  auto& v = r.verified;
  v.unit = "connections";
  auto n = o.connections;
  r.param("connections", std::to_string(n));
  r.param("hold", fmt(o.duration, 1) + "s");
  r.param("connect-concurrency", std::to_string(o.connect_concurrency));
  r.param("threads", std::to_string(o.threads));
  if (!run_.sources.empty())
    r.param("source-addresses", std::to_string(run_.sources.size()));
  make_jobs(0, false);
  for (size_t i = 0; i < n; ++i)
    add_client(nullptr, false);
  std::optional<memory_kib> mem0;
  if (server_pid_ != 0)
    mem0 = read_memory(server_pid_);
  auto scpu0 = server_cpu();
  start_workers();
  auto t0 = now_ns();
  connect_clients();
  wait_for("connecting", connect_timeout(n), [&](const totals& t) {
    return t.connected + t.connect_failed >= n;
  });
  auto connect_s = seconds_between(t0, now_ns());
  auto scpu1 = server_cpu();
  auto t = sum();
  progress("connected", true);
  r.add("connected", "connections open", static_cast<double>(t.connected));
  r.add("connect_seconds", "time to connect all", connect_s, "s", 2);
  r.add("connects_per_s", "connect rate (to `connected`)",
        static_cast<double>(t.connected) / connect_s, "conn/s");
  if (scpu0 && scpu1)
    r.add("server_cpu_connect_pct", "server CPU while connecting",
          (*scpu1 - *scpu0) / connect_s * 100, "% of a core");
  histogram hs;
  for (auto& wk : workers_)
    hs.merge(wk->connect_latency);
  add_latency(r, "handshake", "connect to `connected`", hs);
  // Hold them idle; the server's pings are answered.
  auto hold_end = now_ns() + static_cast<uint64_t>(o.duration * 1e9);
  while (now_ns() < hold_end) {
    progress("holding");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::optional<memory_kib> mem1;
  if (server_pid_ != 0)
    mem1 = read_memory(server_pid_);
  auto h0 = now_ns();
  auto health = http_request(run_.server, "GET", "/healthz");
  r.add("healthz_ms", "GET /healthz while holding", seconds_between(h0, now_ns()) * 1000, "ms", 2);
  if (health.status != 200)
    v.problem("GET /healthz while holding the connections: "
              + (health.error.empty() ? std::to_string(health.status)
                                      : health.error));
  t = sum();
  for (auto& wk : workers_)
    wk->for_each_client([](ws_client& c) { c.abort(); });
  stop_workers();
  if (mem0 && mem1 && t.connected > 0) {
    auto per = [&](uint64_t before, uint64_t after) {
      return (static_cast<double>(after) - static_cast<double>(before))
             * 1024.0 / static_cast<double>(t.connected);
    };
    r.add("server_rss_before_mib", "server RSS before", mem0->rss / 1024.0, "MiB", 1);
    r.add("server_rss_after_mib", "server RSS with the connections", mem1->rss / 1024.0, "MiB", 1);
    r.add("rss_per_connection_bytes", "server RSS per connection",
          per(mem0->rss, mem1->rss), "bytes");
    if (mem0->has_pss && mem1->has_pss)
      r.add("pss_per_connection_bytes", "server PSS per connection",
            per(mem0->pss, mem1->pss), "bytes");
    r.note("memory per connection is the server's growth divided by the "
           "connections; memory a previous run left in the allocator makes "
           "it smaller: start the server fresh");
  } else {
    r.note("server memory unknown: pass --server-pid=PID (the server's "
           "/proc/PID/status and smaps_rollup are read)");
  }
  // Each connection is one "event" of this check: it got `connected`
  // with a well-formed id and stayed open.
  v.events = t.connected;
  size_t failed = 0, closed = 0, bad_id = 0;
  std::string first_failure;
  for (auto* c : clients_) {
    if (!c->failure.empty()) {
      ++failed;
      if (first_failure.empty())
        first_failure = c->failure;
    } else if (c->server_closed) {
      ++closed;
    } else if (!c->connection_id.starts_with("conn_")) {
      ++bad_id;
    }
  }
  if (failed > 0)
    v.problem(std::to_string(failed) + " connections failed (first: "
              + first_failure + ")");
  if (closed > 0)
    v.problem(std::to_string(closed)
              + " idle connections were closed by the server");
  if (bad_id > 0)
    v.problem(std::to_string(bad_id)
              + " connections got no well-formed connection_id");
  v.missing = n - std::min<uint64_t>(n, t.connected);
}

// -- persistence -----------------------------------------------------------------------

void bench_run::persistence(report& r) {
  auto& o = opt_;
  auto& v = r.verified;
  auto p = o.publishers;
  r.param("publishers", std::to_string(p));
  r.param("window", std::to_string(o.window));
  r.param("via", o.publish_via);
  r.param("rate", rate_text(o.rate));
  r.param("duration", fmt(o.duration, 1) + "s");
  r.param("payload", std::to_string(o.payload_bytes) + "B");
  r.param("threads", std::to_string(o.threads));
  make_jobs(p, false);
  for (size_t i = 0; i < p; ++i)
    add_publisher({&(*jobs_)[i]});
  run_.one_publisher_per_job = true;
  run_.rate_per_publisher = o.rate / static_cast<double>(p);
  start_workers();
  connect_publishers();
  wait_for("publishers", 10, [&](const totals& t) {
    return t.publishers_up + t.publishers_failed >= p;
  });
  auto w = publish_for(o.duration);
  progress("publishing", true);
  wait_for("finishing", 30, [](const totals& t) { return t.in_flight == 0; });
  stop_workers();
  auto acked = static_cast<double>(w.after.acked - w.before.acked);
  r.add("events_per_s", "events stored and acknowledged/s", acked / w.seconds);
  r.add("events_per_s_per_publisher", "per publisher",
        acked / w.seconds / static_cast<double>(p));
  histogram ack;
  for (auto& wk : workers_)
    ack.merge(wk->ack_latency);
  add_latency(r, "ack", "publish to 202", ack);
  add_cpu(r, w);
  verify_publishers(r);
  verify_jobs(r);
  // What was acknowledged is in the store: each job's snapshot has it.
  for (size_t i = 0; i < jobs_->size(); ++i) {
    auto& j = (*jobs_)[i];
    v.events += j.acked.load();
    auto res = http_request(run_.server, "GET", "/v1/jobs/" + j.id);
    frame_fields f;
    if (res.status != 200 || !scan_frame(res.body, f) || !f.has_last_seq) {
      v.problem("GET /v1/jobs/" + j.id + ": " + std::to_string(res.status)
                + " " + res.error + res.body.substr(0, 200));
      continue;
    }
    if (f.last_seq != j.acked_max.load()) {
      auto max = j.acked_max.load();
      if (f.last_seq < max)
        v.missing += max - f.last_seq;
      v.problem("job " + j.id + ": snapshot last_seq "
                + std::to_string(f.last_seq) + " but "
                + std::to_string(max) + " acknowledged");
    }
  }
}

// -- reconnect -----------------------------------------------------------------------

void bench_run::reconnect(report& r) {
  auto& o = opt_;
  auto& v = r.verified;
  auto n = o.connections;
  auto k = o.jobs;
  constexpr uint64_t warm = 2; // events each client sees before leaving
  auto m = static_cast<uint64_t>(o.events);
  if (o.nchan())
    r.param("target", o.target);
  r.param("connections", std::to_string(n));
  r.param("jobs", std::to_string(k));
  r.param("events-per-job", std::to_string(m));
  r.param("publishers", std::to_string(o.publishers));
  r.param("window", std::to_string(o.window));
  r.param("via", o.publish_via);
  r.param("payload", std::to_string(o.payload_bytes) + "B");
  r.param("threads", std::to_string(o.threads));
  make_jobs(k, false);
  std::vector<ws_client*> first;
  for (size_t i = 0; i < n; ++i) {
    auto& job = (*jobs_)[i % k];
    ++job.readers;
    auto* c = add_client(&job, false);
    c->subscribe_on_connect = true;
    first.push_back(c);
  }
  for (size_t p = 0; p < o.publishers; ++p) {
    std::vector<job_slot*> mine;
    for (size_t j = 0; j < k; ++j)
      if (k < o.publishers || j % o.publishers == p)
        mine.push_back(&(*jobs_)[j]);
    add_publisher(std::move(mine));
  }
  start_workers();
  connect_clients();
  wait_for("subscribing", connect_timeout(n), [&](const totals& t) {
    return t.subscribed + t.connect_failed + t.closed >= n;
  });
  if (sum().subscribed < n) {
    v.problem(std::to_string(n - sum().subscribed)
              + " clients did not get to `subscribed`");
    stop_workers();
    verify_clients(r, [](const ws_client&) { return 0; }, first);
    return;
  }
  connect_publishers();
  wait_for("publishers", 10, [&](const totals& t) {
    return t.publishers_up + t.publishers_failed >= o.publishers;
  });
  // 1. A few events reach everybody.
  for (size_t j = 0; j < k; ++j)
    (*jobs_)[j].quota = warm;
  publish_for(60, [&](const totals& t) { return t.acked + t.refused >= warm * k; });
  wait_for("warm-up", o.drain_timeout, [&](const totals& t) {
    return t.events >= jobs_->expected_deliveries();
  });
  // 2. Everybody leaves, and the server has closed their records.
  auto closed_before = sum().closed;
  for (auto& wk : workers_)
    wk->for_each_client([](ws_client& c) { c.close_gracefully(); });
  wait_for("disconnecting", 30, [&](const totals& t) {
    return t.closed - closed_before >= n;
  });
  auto gone_deadline = now_ns() + 30'000'000'000ull;
  for (size_t j = 0; j < k; ++j) {
    auto& job = (*jobs_)[j];
    for (;;) {
      auto res = http_request(run_.server, "GET",
                              "/v1/jobs/" + job.id + "/connections");
      if (res.status == 200
          && res.body.find("\"connections\":[]") != std::string::npos)
        break;
      if (now_ns() > gone_deadline) {
        v.problem("job " + job.id + " still lists connections 30 s after "
                  "they closed: " + res.body.substr(0, 200));
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  // 3. M events per job while nobody listens.
  for (size_t j = 0; j < k; ++j)
    (*jobs_)[j].quota = warm + m;
  auto acked_before = sum().acked;
  auto w = publish_for(600, [&](const totals& t) {
    return t.acked + t.refused >= (warm + m) * k;
  });
  wait_for("finishing", 30, [](const totals& t) { return t.in_flight == 0; });
  r.add("publish_events_per_s", "events acknowledged/s while away",
        static_cast<double>(sum().acked - acked_before) / w.seconds);
  // 4. N new connections, then all resume at once.
  std::vector<ws_client*> second;
  for (auto* old : first) {
    auto* c = add_client_live(old->job);
    c->record_latency = false;
    c->check.has_base = old->check.has_base;
    c->check.base = old->check.base;
    c->check.last = old->check.last;
    second.push_back(c);
  }
  // Hand the new clients to their workers (they own them from now on);
  // client n + i went to worker (n + i) mod threads.
  for (size_t i = 0; i < second.size(); ++i) {
    auto* c = second[i];
    auto* wk = workers_[(n + i) % workers_.size()].get();
    wk->post([wk, c] {
      wk->clients.emplace_back(c);
      wk->queue_connect(c);
    });
  }
  auto t_reconnect = now_ns();
  wait_for("reconnecting", connect_timeout(n), [&](const totals& t) {
    return t.connected + t.connect_failed >= 2 * n;
  });
  r.add("reconnect_seconds", "reconnect " + std::to_string(n) + " clients",
        seconds_between(t_reconnect, now_ns()), "s", 2);
  std::vector<std::string> old_ids;
  for (auto* c : first)
    old_ids.push_back(c->connection_id);
  auto scpu0 = server_cpu();
  auto t0 = now_ns();
  for (size_t wi = 0; wi < workers_.size(); ++wi) {
    std::vector<std::pair<ws_client*, std::string>> mine;
    for (size_t i = 0; i < second.size(); ++i) {
      size_t index = n + i;
      if (index % workers_.size() == wi)
        mine.emplace_back(second[i], old_ids[i]);
    }
    workers_[wi]->post([mine = std::move(mine)] {
      auto now = now_ns();
      for (auto& [c, id] : mine) {
        c->check.target = c->job->acked_max.load();
        c->check.target_set_ns = now;
        c->resume(id);
      }
    });
  }
  bool all = wait_for("catching up", o.duration, [&](const totals& t) {
    return t.caught_up >= n;
  });
  auto catch_s = seconds_between(t0, now_ns());
  auto scpu1 = server_cpu();
  stop_workers();
  r.add("catch_up_seconds", "resume to all caught up", catch_s, "s", 2);
  r.add("replayed_events_per_s", "replayed events/s",
        static_cast<double>(n * m) / catch_s);
  if (scpu0 && scpu1)
    r.add("server_cpu_pct", "server CPU while catching up",
          (*scpu1 - *scpu0) / catch_s * 100, "% of a core");
  histogram h;
  for (auto& wk : workers_)
    h.merge(wk->catch_up);
  add_latency(r, "client_catch_up", "per-client catch-up", h);
  if (!all)
    r.note("not everybody caught up within --duration="
           + fmt(o.duration) + "s");
  verify_publishers(r);
  verify_jobs(r);
  verify_clients(r, [](const ws_client&) { return warm; }, first);
  verify_clients(r, [](const ws_client& c) { return c.job->acked_max.load(); },
                 second);
  size_t not_resumed = 0;
  for (auto* c : second)
    if (!c->resumed)
      ++not_resumed;
  if (not_resumed > 0)
    v.problem(std::to_string(not_resumed) + " clients got no `resumed`");
}

} // namespace jobwire::bench
