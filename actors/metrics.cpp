#include "actors/metrics.hpp"

#include <cstdio>

#include "messages/job_event.hpp"

namespace jobwire {

metrics& metrics::global() {
  static metrics instance;
  return instance;
}

void metrics::latency_tally::add(std::chrono::steady_clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us < 0)
    us = 0;
  auto seconds = static_cast<double>(us) / 1e6;
  size_t i = 0;
  while (i < latency_bounds.size() && seconds > latency_bounds[i])
    ++i;
  ++buckets_[i];
  sum_us_ += static_cast<uint64_t>(us);
  ++count_;
}

void metrics::histogram::observe(const latency_tally& tally) {
  if (tally.count_ == 0)
    return;
  for (size_t i = 0; i < buckets_.size(); ++i)
    if (tally.buckets_[i] > 0)
      buckets_[i] += tally.buckets_[i];
  sum_us_ += tally.sum_us_;
  count_ += tally.count_;
}

void metrics::histogram::observe(std::chrono::steady_clock::duration d) {
  latency_tally one;
  one.add(d);
  observe(one);
}

void metrics::store_use_source(std::function<store_use()> f) {
  std::lock_guard<std::mutex> guard{source_mtx_};
  store_use_ = std::move(f);
}

namespace {

void line(std::string& out, const char* name, const char* help,
          const char* type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void value(std::string& out, const std::string& name, double x) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), " %.17g\n", x);
  out += name;
  out += buf;
}

} // namespace

std::string metrics::render() const {
  std::string out;
  out.reserve(4096);
  auto gauge = [&](const char* name, const char* help, double x) {
    line(out, name, help, "gauge");
    value(out, name, x);
  };
  auto counter = [&](const char* name, const char* help, double x) {
    line(out, name, help, "counter");
    value(out, name, x);
  };
  gauge("jobwire_connections", "Open WebSocket connections.",
        static_cast<double>(connections.load()));
  gauge("jobwire_subscriptions", "Jobs followed, summed over connections.",
        static_cast<double>(subscriptions.load()));
  gauge("jobwire_live_jobs", "Job actors in memory.",
        static_cast<double>(live_jobs.load()));
  line(out, "jobwire_events_published_total", "Events stored, by type.",
       "counter");
  for (size_t i = 0; i < events_published.size(); ++i)
    value(out,
          "jobwire_events_published_total{type=\""
            + std::string{to_string(static_cast<event_type>(i))} + "\"}",
          static_cast<double>(events_published[i].load()));
  counter("jobwire_messages_delivered_total",
          "Frames written to WebSocket clients.",
          static_cast<double>(messages_delivered.load()));
  counter("jobwire_delivery_retries_total",
          "Sends retried because a client's queue was full.",
          static_cast<double>(delivery_retries.load()));
  counter("jobwire_delivery_failures_total",
          "Sends given up on (client gone or too slow); resumable from the "
          "store.",
          static_cast<double>(delivery_failures.load()));
  counter("jobwire_coalesced_events_total",
          "progress_update events replaced by newer ones for slow clients.",
          static_cast<double>(coalesced_events.load()));
  counter("jobwire_slow_consumer_closes_total",
          "Connections closed with 1013 for falling behind.",
          static_cast<double>(slow_consumer_closes.load()));
  counter("jobwire_access_denied_total",
          "Requests refused for a missing, bad or insufficient token.",
          static_cast<double>(access_denied.load()));
  auto hist = [&](const std::string& name, const char* help,
                  const histogram& h) {
    line(out, name.c_str(), help, "histogram");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < latency_bounds.size(); ++i) {
      cumulative += h.buckets_[i].load();
      char le[32];
      std::snprintf(le, sizeof(le), "%g", latency_bounds[i]);
      value(out, name + "_bucket{le=\"" + le + "\"}",
            static_cast<double>(cumulative));
    }
    cumulative += h.buckets_.back().load();
    value(out, name + "_bucket{le=\"+Inf\"}",
          static_cast<double>(cumulative));
    value(out, name + "_sum", static_cast<double>(h.sum_us_.load()) / 1e6);
    value(out, name + "_count", static_cast<double>(h.count_.load()));
  };
  hist("jobwire_publish_to_send_seconds",
       "Time from the job actor taking an event (before it is stored) to "
       "its frame being written.",
       publish_to_send);
  hist("jobwire_commit_seconds",
       "Time of one LMDB commit by the registry, syncs included.", commit);
  counter("jobwire_commit_writes_total",
          "Records written by those commits (events, jobs, connections).",
          static_cast<double>(commit_writes.load()));
  counter("jobwire_store_refused_writes_total",
          "Records the store refused to write (full store, full or failing "
          "disk); their publishers got storage_full or internal.",
          static_cast<double>(refused_writes.load()));
  counter("jobwire_expired_records_total",
          "Expired jobs and connections removed from the store.",
          static_cast<double>(expired_records.load()));
  counter("jobwire_expiry_refused_total",
          "Removals of expired records the store refused (full): expiry "
          "retries with fewer at a time, and later.",
          static_cast<double>(expiry_refusals.load()));
  gauge("jobwire_store_writable",
        "0 once the store refused a write, 1 again once it stores a "
        "publish.",
        store_refusing.load() == store_refusal::none ? 1.0 : 0.0);
  std::function<store_use()> source;
  {
    std::lock_guard<std::mutex> guard{source_mtx_};
    source = store_use_;
  }
  if (source) {
    auto use = source();
    gauge("jobwire_lmdb_map_used_bytes",
          "Bytes of the LMDB map up to its last page written (a high-water "
          "mark: freed pages stay in it).",
          static_cast<double>(use.used));
    gauge("jobwire_lmdb_free_bytes",
          "Bytes of those pages free for reuse; used minus free is what the "
          "data takes.",
          static_cast<double>(use.free));
    gauge("jobwire_lmdb_map_size_bytes", "Size of the LMDB map.",
          static_cast<double>(use.size));
    auto count = [&](const char* name, const char* help,
                     const std::optional<size_t>& x) {
      if (x)
        gauge(name, help, static_cast<double>(*x));
    };
    count("jobwire_stored_jobs",
          "Jobs in the store, running or finished (until they expire).",
          use.jobs);
    count("jobwire_stored_events", "Events in the store, of all jobs.",
          use.events);
    count("jobwire_stored_connections",
          "Connection records in the store, open or resumable.",
          use.connections);
  }
  return out;
}

} // namespace jobwire
