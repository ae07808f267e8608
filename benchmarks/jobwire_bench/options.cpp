#include "jobwire_bench/options.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

namespace jobwire::bench {

namespace {

template <class T>
bool to_number(std::string_view s, T& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

bool to_double(std::string_view s, double& out) {
  try {
    size_t used = 0;
    std::string str{s};
    out = std::stod(str, &used);
    return used == str.size() && std::isfinite(out);
  } catch (...) {
    return false;
  }
}

std::string parse_url(options& x) {
  std::string_view u = x.url;
  for (std::string_view scheme : {"http://", "ws://"})
    if (u.starts_with(scheme))
      u.remove_prefix(scheme.size());
  if (u.starts_with("https://") || u.starts_with("wss://"))
    return "TLS is not supported: use http://";
  if (auto slash = u.find('/'); slash != std::string_view::npos) {
    auto path = u.substr(slash);
    while (!path.empty() && path.back() == '/')
      path.remove_suffix(1);
    x.base_path = std::string{path};
    u = u.substr(0, slash);
  }
  auto colon = u.rfind(':');
  if (colon == std::string_view::npos) {
    x.host = std::string{u};
    x.port = 80;
  } else {
    x.host = std::string{u.substr(0, colon)};
    if (!to_number(u.substr(colon + 1), x.port) || x.port == 0)
      return "--url: bad port in '" + x.url + "'";
  }
  if (x.host.empty())
    return "--url: no host in '" + x.url + "'";
  return {};
}

} // namespace

std::string parse_options(int argc, char** argv, options& out) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (arg == "--quiet") {
      out.quiet = true;
      continue;
    }
    if (!arg.starts_with("--"))
      return "unexpected argument '" + std::string{arg}
             + "' (options are --name=value)";
    arg.remove_prefix(2);
    auto eq = arg.find('=');
    if (eq == std::string_view::npos)
      return "option --" + std::string{arg} + " needs a value (--"
             + std::string{arg} + "=...)";
    auto name = arg.substr(0, eq);
    auto value = arg.substr(eq + 1);
    bool ok = true;
    if (name == "url")
      out.url = std::string{value};
    else if (name == "token")
      out.token = std::string{value};
    else if (name == "scenario")
      out.scenario = std::string{value};
    else if (name == "target")
      out.target = std::string{value};
    else if (name == "connections")
      ok = to_number(value, out.connections);
    else if (name == "jobs")
      ok = to_number(value, out.jobs);
    else if (name == "rate")
      ok = to_double(value, out.rate) && out.rate >= 0;
    else if (name == "duration")
      ok = to_double(value, out.duration) && out.duration > 0;
    else if (name == "payload-bytes")
      ok = to_number(value, out.payload_bytes);
    else if (name == "publishers")
      ok = to_number(value, out.publishers);
    else if (name == "window")
      ok = to_number(value, out.window);
    else if (name == "publish-via")
      out.publish_via = std::string{value};
    else if (name == "caf-port")
      ok = to_number(value, out.caf_port) && out.caf_port > 0;
    else if (name == "max-lag")
      ok = to_number(value, out.max_lag);
    else if (name == "events")
      ok = to_number(value, out.events);
    else if (name == "stalled")
      ok = to_double(value, out.stalled) && out.stalled >= 0
           && out.stalled < 1;
    else if (name == "stalled-rcvbuf")
      ok = to_number(value, out.stalled_rcvbuf);
    else if (name == "threads")
      ok = to_number(value, out.threads) && out.threads > 0
           && out.threads <= 64;
    else if (name == "cpu")
      ok = to_number(value, out.cpu) && out.cpu >= 0;
    else if (name == "json")
      out.json = std::string{value};
    else if (name == "server-pid")
      ok = to_number(value, out.server_pid) && out.server_pid > 0;
    else if (name == "connect-concurrency")
      ok = to_number(value, out.connect_concurrency)
           && out.connect_concurrency > 0;
    else if (name == "drain-timeout")
      ok = to_double(value, out.drain_timeout) && out.drain_timeout > 0;
    else
      return "unknown option --" + std::string{name} + " (see --help)";
    if (!ok)
      return "bad value '" + std::string{value} + "' for --"
             + std::string{name} + " (see --help)";
  }
  return parse_url(out);
}

std::string apply_defaults(options& x) {
  auto def = [](auto& field, auto value) {
    if (field == 0)
      field = value;
  };
  const auto& s = x.scenario;
  if (s == "fanout") {
    // jobwire: enough publishers that the job always has a batch waiting
    // (a job stores one batch at a time; fewer in flight make it wait).
    // nchan: the one channel has one publisher connection (see below).
    def(x.connections, 1000);
    def(x.jobs, 1);
    def(x.publishers, x.nchan() ? 1 : 128);
    def(x.window, x.nchan() ? 32 : 2);
    def(x.duration, 10.0);
  } else if (s == "many-jobs" || s == "stalled") {
    def(x.connections, 1000);
    def(x.jobs, 100);
    def(x.publishers, 4);
    def(x.window, 8);
    def(x.duration, 10.0);
    if (s == "stalled" && x.stalled < 0)
      x.stalled = 0.01;
  } else if (s == "capacity") {
    def(x.connections, 10000);
    def(x.duration, 5.0);
  } else if (s == "persistence") {
    def(x.publishers, 4);
    def(x.window, 1);
    def(x.duration, 10.0);
    x.jobs = x.publishers;
  } else if (s == "reconnect") {
    def(x.connections, 1000);
    def(x.jobs, 100);
    def(x.publishers, 4);
    def(x.window, 32);
    def(x.events, 100);
    def(x.duration, 60.0); // a deadline here, not a run time
  } else if (s.empty()) {
    return "no --scenario given (fanout, many-jobs, capacity, persistence, "
           "reconnect, stalled; see --help)";
  } else {
    return "unknown --scenario=" + s
           + " (fanout, many-jobs, capacity, persistence, reconnect, "
             "stalled)";
  }
  if (x.target != "jobwire" && x.target != "nchan")
    return "unknown --target=" + x.target + " (jobwire, nchan)";
  if (x.nchan()) {
    if (s != "fanout" && s != "many-jobs")
      return "--target=nchan runs only the fanout and many-jobs scenarios, "
             "not " + s;
    // A channel has one publisher connection, so that its messages reach
    // nchan in the order of the seqs the publisher put in them.
    if (x.publishers > x.jobs)
      x.publishers = x.jobs;
  }
  if (x.publish_via != "http" && x.publish_via != "caf")
    return "unknown --publish-via=" + x.publish_via + " (http, caf)";
  if (x.via_caf() && x.nchan())
    return "--publish-via=caf publishes to jobwire's ingest actor; nchan "
           "has none";
  if (x.via_caf() && x.caf_port == 0)
    return "--publish-via=caf needs --caf-port (the server's --caf-port; "
           "it prints it at startup)";
  if (x.stalled < 0)
    x.stalled = 0;
  if (s != "capacity" && (x.jobs == 0 || x.publishers == 0 || x.window == 0))
    return "--jobs, --publishers and --window must be at least 1";
  if (s != "capacity" && s != "persistence" && x.connections < x.jobs)
    return "--connections must be at least --jobs (each job needs a "
           "subscriber)";
  if (x.payload_bytes < 100 || x.payload_bytes > 60000)
    return "--payload-bytes must be 100 to 60000 (the event body published)";
  return {};
}

std::string usage() {
  return R"(jobwire-bench: load generator for a running jobwire server

usage: jobwire-bench --scenario=NAME [--url=http://127.0.0.1:8080] [knobs]
       [--target=jobwire|nchan]

scenarios
  fanout       one job, N subscribers, publishers as fast as the server
               takes; deliveries/s (frames received by all subscribers)
  many-jobs    N connections over K jobs (round robin); end-to-end latency
               p50/p99/p99.9 at --rate (or max) and deliveries/s
  capacity     N idle connections: connect rate (to the `connected` frame)
               and the server's memory per connection (--server-pid)
  persistence  P publishers, each to its own job, waiting for each
               acknowledgement; stored and acknowledged events/s
  reconnect    N clients subscribe, disconnect, M events per job are
               published, all N resume at once: time until all caught up
  stalled      many-jobs where --stalled of the connections stop reading
               after subscribing; deliveries/s to the others

knobs (0 or absent: the scenario's default)
  --connections=N        WebSocket clients (fanout/many-jobs/reconnect/
                         stalled 1000, capacity 10000)
  --jobs=K               jobs (fanout 1, many-jobs/reconnect/stalled 100)
  --rate=R               events/s over all publishers, 0 = max (default 0)
  --duration=S           seconds of publishing (default 10; capacity: seconds
                         to hold the connections, default 5)
  --payload-bytes=B      size of each published event body (default 200)
  --publishers=P         publishers: keep-alive HTTP connections, or CAF
                         actors sharing one connection (fanout 128, others 4)
  --window=W             requests in flight per publisher (fanout 2,
                         persistence 1, many-jobs/stalled 8, reconnect 32)
  --publish-via=http     publishers POST each event (default)
  --publish-via=caf      publishers send each event to jobwire's ingest
                         actor as a pipeline process does (needs
                         --caf-port=N, the server's --caf-port; the host is
                         --url's)
  --max-lag=L            a job's publishers stay at most L events ahead of
                         its slowest reading subscriber, so "max" means what
                         the server delivers, not what it queues (default
                         256; 0 = no limit)
  --events=M             reconnect: events per job while away (default 100)
  --stalled=F            stalled: fraction that stops reading (default 0.01)
  --stalled-rcvbuf=B     SO_RCVBUF of the stalled clients (default 4096, so
                         their own buffers stay small; the server's socket
                         send buffer still takes up to tcp_wmem's maximum;
                         0 = the kernel's autotuned default)

target
  --target=jobwire       the server under test (default)
  --target=nchan         nginx with the nchan module, for comparison (fanout
                         and many-jobs only): subscribers open a WebSocket to
                         URL/sub/<job id>, publishers POST URL/pub/<job id>;
                         the body carries the job id, a seq the publisher
                         gives and the time stamp, and is checked as for
                         jobwire. Each channel has one publisher connection
                         (fanout default: --publishers=1 --window=32)

running
  --threads=N            io threads of the benchmark (default 1)
  --cpu=N                pin the benchmark to CPU N
  --server-pid=PID       the server process, for its CPU and memory (found
                         by its listening port when it runs on this host)
  --connect-concurrency=N  handshakes in flight at once (default 500; jobwire
                         closes connections past --max-pending-handshakes)
  --drain-timeout=S      how long to wait for the last deliveries (15)
  --json=FILE            also write the results as JSON
  --token=JWT            for a server with --auth-secret-file: a token with
                         view and publish on the jobs bench-* (sent on the
                         upgrade and with every HTTP publish)
  --quiet                no progress line on stderr

Every run checks what it received (per connection and job: seqs increasing,
no gaps, nothing missing at the end; only stalled clients may see
progress_updates coalesced) and exits 1 with FAILED when anything was lost,
2 when it could not run (no server, a refused token, bad options).
For thousands of connections raise `ulimit -n` for both the server and the
benchmark (the benchmark raises its soft limit to the hard one itself).
)";
}

} // namespace jobwire::bench
