#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace jobwire::bench {

/// What the user asked for; zeros mean "the scenario's default".
struct options {
  std::string url = "http://127.0.0.1:8080";
  std::string scenario;
  /// The server under test: "jobwire", or "nchan" (nginx with the nchan
  /// module, fanout and many-jobs only).
  std::string target = "jobwire";
  /// From `url`.
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  /// The path of `url` without its trailing '/' (nchan's locations are
  /// below it).
  std::string base_path;

  size_t connections = 0;
  size_t jobs = 0;
  /// Events per second over all publishers; 0 = as fast as the server
  /// takes them (within `max_lag`).
  double rate = 0;
  double duration = 0;
  size_t payload_bytes = 200;
  size_t publishers = 0;
  /// Requests in flight per publisher connection (HTTP pipelining).
  size_t window = 0;
  /// How publishers reach the server: "http" (POST per event) or "caf"
  /// (requests to the ingest actor at `caf_port`, as pipelines publish).
  std::string publish_via = "http";
  /// jobwire's --caf-port, for publish_via "caf" (host from `url`).
  uint16_t caf_port = 0;
  /// Events a job's publisher may be ahead of its slowest (not stalled)
  /// subscriber; 0 = no limit.
  size_t max_lag = 256;
  /// reconnect: events per job published while the clients are away.
  size_t events = 100;
  /// stalled: the fraction of connections that stop reading.
  double stalled = -1;
  /// stalled: SO_RCVBUF of the stalled clients, so that little of what
  /// they do not read waits on their side; 0 = the kernel's default.
  size_t stalled_rcvbuf = 4096;
  size_t threads = 1;
  int cpu = -1;
  std::string json;
  /// A JWT for a server with --auth-secret-file; empty: none.
  std::string token;
  /// 0: look the server up by its listening port (local servers only).
  int server_pid = 0;
  /// Below jobwire's --max-pending-handshakes (1024 by default).
  size_t connect_concurrency = 500;
  double drain_timeout = 15;
  bool quiet = false;
  bool help = false;

  bool nchan() const {
    return target == "nchan";
  }

  bool via_caf() const {
    return publish_via == "caf";
  }
};

/// Parses `--name=value` arguments into `out`; an error text on failure.
std::string parse_options(int argc, char** argv, options& out);

/// Fills what was left at zero with the scenario's defaults; an error text
/// when the scenario is unknown or a knob is out of range.
std::string apply_defaults(options& x);

/// The --help text.
std::string usage();

} // namespace jobwire::bench
