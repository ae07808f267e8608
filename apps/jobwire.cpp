// The jobwire server: HTTP and WebSocket on --port, job actors behind them.

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>

#include "caf/all.hpp"
#include "caf/io/all.hpp"
#include "caf/openssl/all.hpp"

#include "actors/access.hpp"
#include "actors/delivery_actor.hpp"
#include "actors/directory_actor.hpp"
#include "actors/ingest_actor.hpp"
#include "actors/metrics.hpp"
#include "actors/registry_actor.hpp"
#include "actors/stealing_policy.hpp"
#include "messages/command_line_error.hpp"
#include "messages/config_file_check.hpp"
#include "messages/descriptor_limit.hpp"
#include "messages/host_port.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "messages/small_file.hpp"
#include "messages/whole_number_options.hpp"
#include "net/server.hpp"
#include "persistence/store_check.hpp"
#include "pipeline/tls_mirror.hpp"

namespace {

/// The cores this process may run on (taskset, cgroup cpusets), not the
/// machine's.
size_t usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
    return static_cast<size_t>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

struct config : caf::actor_system_config {
  uint16_t port = 8080;
  uint16_t caf_port = 4242;
  std::string bind = "127.0.0.1";
  std::string data_dir = "./jobwire-data";
  std::string log_level = "info";
  size_t max_message_bytes = 65536;
  size_t max_fragments = 1024;
  uint32_t max_header_bytes = 8192;
  size_t max_queue_bytes = 1 << 20;
  size_t max_queue_frames = 4096;
  size_t heartbeat = 25;
  size_t socket_send_buffer = 256 * 1024;
  size_t max_ingest_pending = 65536;
  size_t max_live_jobs = 1'000'000;
  size_t slow_consumer_seconds = 10;
  size_t progress_seconds = 10;
  size_t retry_base_ms = 50;
  size_t retry_cap_ms = 5000;
  size_t max_subscriptions = 128;
  size_t max_connections = 100000;
  size_t max_connections_per_address = 10000;
  size_t max_pending_handshakes = 1024;
  /// Not an option: set from the descriptor limit at start.
  size_t client_descriptors = SIZE_MAX;
  size_t max_commands_per_second = 50;
  size_t max_errors = 0;
  size_t handshake_timeout_ms = 10000;
  size_t io_threads = 1;
  size_t drain_seconds = 10;
  std::string auth_secret_file;
  std::string caf_tls_cert;
  std::string caf_tls_key;
  std::string caf_tls_ca;
  std::string allowed_origins;
  size_t store_check_seconds = 60;
  bool allow_anonymous = false;
  std::string durability = "sync";
  size_t connection_ttl = 3600;
  size_t job_retention = 86400;
  size_t job_idle = 60;
  size_t worker_grace = 30;
  size_t job_abandon = 7 * 86400;
  size_t map_size = size_t{1} << 30;
  size_t max_map_size = size_t{16} << 30;

  config() {
    opt_group{custom_options_, "global"}
      .add(port, "port", "HTTP and WebSocket port (0: any free port)")
      .add(caf_port, "caf-port", "CAF port for pipeline processes")
      .add(bind, "bind", "address to listen on")
      .add(data_dir, "data-dir", "directory for the job store")
      .add(log_level, "log-level",
           "trace, debug, info, warn, error, critical or off")
      .add(max_message_bytes, "max-message-bytes",
           "largest WebSocket message and HTTP body")
      .add(max_header_bytes, "max-header-bytes",
           "largest HTTP request head; more is answered 431")
      .add(max_fragments, "max-fragments",
           "frames one WebSocket message may be split into")
      .add(max_queue_bytes, "max-queue-bytes",
           "bytes queued for one client; more wait in the delivery actor")
      .add(max_queue_frames, "max-queue-frames",
           "frames queued for one client; more wait in the delivery actor")
      .add(socket_send_buffer, "socket-send-buffer",
           "kernel send buffer of each client socket in bytes (0: the "
           "kernel's autotuning)")
      .add(max_ingest_pending, "max-ingest-pending",
           "publishes over CAF waiting to be stored at once; more are "
           "refused with rate_limited")
      .add(max_live_jobs, "max-live-jobs",
           "jobs in memory at most (a few KB each); past it, requests for "
           "other jobs are refused with rate_limited while idle ones leave")
      .add(heartbeat, "heartbeat",
           "seconds between WebSocket pings; two unanswered drop the peer")
      .add(slow_consumer_seconds, "slow-consumer-seconds",
           "a client still behind after this long is closed with 1013")
      .add(progress_seconds, "progress-seconds",
           "seconds between writes of what a busy connection was sent; "
           "after a crash, resume may send that much again")
      .add(retry_base_ms, "retry-base-ms", "first delivery retry delay (ms)")
      .add(retry_cap_ms, "retry-cap-ms", "longest delivery retry delay (ms)")
      .add(max_subscriptions, "max-subscriptions",
           "jobs one connection may follow")
      .add(max_connections, "max-connections", "WebSocket connections in all")
      .add(max_connections_per_address, "max-connections-per-address",
           "WebSocket connections from one client address")
      .add(max_pending_handshakes, "max-pending-handshakes",
           "TCP connections still in HTTP at once; one client address "
           "may hold half")
      .add(max_commands_per_second, "max-commands-per-second",
           "commands per connection per second (bursts of twice that)")
      .add(max_errors, "max-errors",
           "refused commands within a minute before a connection is closed "
           "with 1008 (0: never)")
      .add(handshake_timeout_ms, "handshake-timeout-ms",
           "time to send a whole HTTP request or WebSocket handshake")
      .add(io_threads, "io-threads", "threads serving sockets")
      .add(caf_tls_cert, "caf-tls-cert",
           "PEM certificate of the CAF port: with the key and CA, pipelines "
           "must present a certificate from that CA")
      .add(caf_tls_key, "caf-tls-key", "PEM private key of --caf-tls-cert")
      .add(caf_tls_ca, "caf-tls-ca",
           "PEM CA file that pipeline certificates must come from")
      .add(auth_secret_file, "auth-secret-file",
           "file holding the HS256 secret: every request then needs a JWT")
      .add(store_check_seconds, "store-check-seconds",
           "at start, time given to reading every stored record, so that "
           "a damaged data.mdb stops the server; past it, the server starts "
           "unchecked (0: no check)")
      .add(allowed_origins, "allowed-origins",
           "comma-separated Origins browsers may connect and POST from, "
           "besides this server's own pages (*: any)")
      .add(allow_anonymous, "allow-anonymous",
           "serve a non-loopback --bind without an auth secret")
      .add(drain_seconds, "drain-seconds",
           "on SIGTERM, time clients get to receive what is queued before "
           "the restart hint and close 1012")
      .add(durability, "durability",
           "sync (default), nometasync or nosync: how commits reach the disk")
      .add(connection_ttl, "connection-ttl",
           "seconds a closed connection stays resumable")
      .add(job_retention, "job-retention",
           "seconds a finished job and its events are kept")
      .add(job_idle, "job-idle",
           "seconds before an idle job leaves memory (state stays on disk)")
      .add(worker_grace, "worker-grace",
           "seconds a running job that lost its worker (also across a "
           "restart of the server) waits for one before it fails with "
           "worker_lost")
      .add(job_abandon, "job-abandon",
           "seconds a running job may go without an event and without a "
           "worker before it fails with abandoned (0: never)")
      .add(map_size, "map-size", "initial LMDB map size in bytes")
      .add(max_map_size, "max-map-size",
           "largest LMDB map size in bytes; past it publishes get "
           "storage_full");
    jobwire::register_types(*this);
    // CAF's default of at least 4 workers makes idle ones spin on a small
    // machine; one per core we may run on (--scheduler.max-threads
    // overrides). Workers sharing a core only hand messages to each other.
    set("scheduler.max-threads", usable_cores());
    // An idle worker sleeps until the next message wakes it rather than
    // polling every 50 us for 25 ms: a message arriving in that window
    // waited for the next poll, and the polls took CPU from the io thread
    // (p99 at 20,000 deliveries/s about halved, no loss at full load).
    set("work-stealing.moderate-poll-attempts", 0);
    // Notice a pipeline process whose link went silent.
    set("middleman.heartbeat-interval",
        caf::timespan{std::chrono::seconds(1)});
    set("middleman.connection-timeout",
        caf::timespan{std::chrono::seconds(5)});
  }

  std::string check_whole_numbers(int argc, char** argv) const {
    return jobwire::check_whole_number_options(custom_options_, argc, argv);
  }

  std::string check_config_file(int argc, char** argv) const {
    bool named = false;
    auto path = jobwire::config_file_argument(argc, argv, named);
    return jobwire::check_config_file(custom_options_, path, named);
  }
};

/// Reports a startup problem the way a person can act on.
int fail(const std::string& what) {
  jobwire::log::error(what);
  std::cerr << "jobwire: " << what << std::endl;
  return EXIT_FAILURE;
}

/// Whether `address` (IPv4 or IPv6) is a loopback address; nothing when
/// it is no address at all.
std::optional<bool> loopback_address(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.c_str(), &v6) == 1)
    return static_cast<bool>(IN6_IS_ADDR_LOOPBACK(&v6));
  return std::nullopt;
}

/// The first option out of its range, as a message naming its value; ""
/// when all are in range. Checked before anything is opened or forked.
std::string out_of_range(const config& cfg) {
  // Each option's range, checked one by one so that the message names the
  // value at fault. Byte limits stop at 1 GiB (a message or queue larger
  // than that is a typo, and the arithmetic on them must not overflow);
  // durations at 100 years (the clocks they become count nanoseconds).
  constexpr size_t gib = size_t{1} << 30;
  constexpr size_t max_seconds = size_t{100} * 365 * 86400;
  constexpr size_t mib = size_t{1} << 20;
  constexpr size_t max_map = size_t{1} << 46; // 64 TiB, half of x86-64's
  struct range {
    const char* name;
    size_t value;
    size_t min;
    size_t max;
    /// The option `min` comes from, if it is another's value.
    const char* min_of = nullptr;
  };
  const range ranges[] = {
    {"max-message-bytes", cfg.max_message_bytes, 1, gib},
    {"max-fragments", cfg.max_fragments, 1, gib},
    {"max-header-bytes", cfg.max_header_bytes, 1024, gib},
    // A queue must take the largest event, and a replay step (a quarter of
    // the queue) at least one frame; smaller, a reader got nothing of a
    // job's history but a 1013.
    {"max-queue-bytes", cfg.max_queue_bytes, cfg.max_message_bytes, gib,
     "max-message-bytes"},
    {"max-queue-frames", cfg.max_queue_frames, 4, gib},
    {"socket-send-buffer", cfg.socket_send_buffer, 0, gib},
    {"max-ingest-pending", cfg.max_ingest_pending, 1, gib},
    {"max-live-jobs", cfg.max_live_jobs, 1, gib},
    {"max-subscriptions", cfg.max_subscriptions, 1, gib},
    {"max-connections", cfg.max_connections, 1, gib},
    {"max-connections-per-address", cfg.max_connections_per_address, 1, gib},
    {"max-pending-handshakes", cfg.max_pending_handshakes, 1, gib},
    {"max-commands-per-second", cfg.max_commands_per_second, 1, gib},
    {"max-errors", cfg.max_errors, 0, gib},
    {"handshake-timeout-ms", cfg.handshake_timeout_ms, 1, max_seconds},
    {"retry-base-ms", cfg.retry_base_ms, 1, max_seconds},
    {"retry-cap-ms", cfg.retry_cap_ms, cfg.retry_base_ms, max_seconds,
     "retry-base-ms"},
    // Each io thread is a thread; thousands would fail to start, mid-way.
    {"io-threads", cfg.io_threads, 1, 256},
    {"heartbeat", cfg.heartbeat, 1, max_seconds},
    {"progress-seconds", cfg.progress_seconds, 1, max_seconds},
    {"connection-ttl", cfg.connection_ttl, 0, max_seconds},
    {"job-retention", cfg.job_retention, 0, max_seconds},
    {"job-idle", cfg.job_idle, 0, max_seconds},
    {"worker-grace", cfg.worker_grace, 0, max_seconds},
    {"job-abandon", cfg.job_abandon, 0, max_seconds},
    {"slow-consumer-seconds", cfg.slow_consumer_seconds, 0, max_seconds},
    // At 0 the io threads stopped before a client got its hint and close.
    {"drain-seconds", cfg.drain_seconds, 1, max_seconds},
    // LMDB needs a few pages to create its databases before it can grow;
    // a map past the address space fails only once it grows there.
    {"map-size", cfg.map_size, mib, max_map},
    {"max-map-size", cfg.max_map_size, cfg.map_size, max_map, "map-size"},
    {"store-check-seconds", cfg.store_check_seconds, 0, max_seconds},
  };
  for (const auto& r : ranges)
    if (r.value < r.min || r.value > r.max)
      return "--" + std::string{r.name} + "=" + std::to_string(r.value)
             + " is out of range: it must be from " + std::to_string(r.min)
             + (r.min_of ? " (--" + std::string{r.min_of} + ")" : "") + " to "
             + std::to_string(r.max)
             // Its value may be the default, set by no one.
             + (r.min_of ? "; raise --" + std::string{r.name} + " or lower --"
                             + r.min_of
                         : std::string{});
  return {};
}

/// What `run` takes from settings that can be wrong beyond their range.
struct checked_settings {
  jobwire::verifier_ptr verifier;
  jobwire::durability durability = jobwire::durability::sync;
};

/// Fills `out`, or says what is wrong. Called before the store is checked
/// or opened: a refused start leaves no data directory behind.
std::string check_settings(const config& cfg, checked_settings& out) {
  if (!cfg.auth_secret_file.empty()) {
    // A secret is a few dozen bytes: a directory, or /dev/zero, is a slip.
    constexpr size_t max_secret_bytes = 1 << 20;
    std::error_code ec;
    if (std::filesystem::is_directory(cfg.auth_secret_file, ec))
      return "--auth-secret-file '" + cfg.auth_secret_file
             + "' is a directory; give the file that holds the secret";
    std::string secret;
    auto read = jobwire::read_small_file(cfg.auth_secret_file,
                                         max_secret_bytes, secret);
    if (read == jobwire::small_file_read::unreadable)
      return "cannot read --auth-secret-file '" + cfg.auth_secret_file + "'";
    if (read == jobwire::small_file_read::too_large)
      return "--auth-secret-file '" + cfg.auth_secret_file
             + "' holds more than 1 MiB; a secret is a few dozen bytes";
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(
                                secret.back())))
      secret.pop_back();
    if (secret.size() < 32)
      return "the secret in --auth-secret-file must be at least 32 bytes";
    out.verifier = std::make_shared<const jobwire::token_verifier>(secret);
  }
  // Safe by default: anyone who can reach a public port could watch and
  // cancel every job.
  auto loopback = loopback_address(cfg.bind);
  if (!loopback)
    return "--bind=" + cfg.bind + " is not an IP address: give one, such as "
           "127.0.0.1, ::1 or 0.0.0.0";
  if (!*loopback && !out.verifier && !cfg.allow_anonymous)
    return "--bind=" + cfg.bind + " is not loopback: give "
           "--auth-secret-file, or --allow-anonymous to serve anyone";
  // Chosen, but worth a line in the log of whoever inherits the setup.
  if (!*loopback && !out.verifier)
    jobwire::log::warn("serving anyone who can reach the port: every job "
                       "may be watched, published to and cancelled without "
                       "a token (--allow-anonymous)",
                       {{"bind", cfg.bind}});
  auto durability = jobwire::parse_durability(cfg.durability);
  if (!durability)
    return "--durability must be sync, nometasync or nosync";
  out.durability = *durability;
  return jobwire::origin_policy::check(cfg.allowed_origins);
}

int run(caf::actor_system& sys, const config& cfg,
        const checked_settings& checked) {
  auto& verifier = checked.verifier;
  jobwire::env_options env;
  env.path = cfg.data_dir;
  env.durability = checked.durability;
  env.map_size = cfg.map_size;
  env.max_map_size = cfg.max_map_size;
  std::string error;
  auto db = jobwire::open_storage(env, error);
  if (!db)
    return fail(error);
  jobwire::server_settings settings;
  settings.bind = cfg.bind;
  settings.port = cfg.port;
  settings.max_message_bytes = cfg.max_message_bytes;
  settings.max_fragments = cfg.max_fragments;
  settings.max_header_bytes = cfg.max_header_bytes;
  settings.max_queue_bytes = cfg.max_queue_bytes;
  settings.socket_send_buffer = cfg.socket_send_buffer;
  settings.handshake_timeout = std::chrono::milliseconds(cfg.handshake_timeout_ms);
  settings.io_threads = static_cast<unsigned>(cfg.io_threads);
  settings.drain = std::chrono::seconds(cfg.drain_seconds);
  settings.connection.max_subscriptions = cfg.max_subscriptions;
  settings.connection.verifier = verifier;
  settings.connection.commands_per_second
    = static_cast<double>(cfg.max_commands_per_second);
  settings.connection.command_burst
    = 2.0 * static_cast<double>(cfg.max_commands_per_second);
  settings.connection.max_errors = static_cast<unsigned>(cfg.max_errors);
  settings.max_connections = cfg.max_connections;
  settings.max_connections_per_address = cfg.max_connections_per_address;
  settings.max_pending_handshakes = cfg.max_pending_handshakes;
  settings.client_descriptors = cfg.client_descriptors;
  settings.origins = jobwire::origin_policy::parse(cfg.allowed_origins);
  settings.connection.heartbeat_seconds = static_cast<unsigned>(cfg.heartbeat);
  settings.connection.progress_interval
    = std::chrono::seconds(cfg.progress_seconds);
  settings.connection.max_queue_bytes = cfg.max_queue_bytes;
  settings.connection.max_queue_frames = cfg.max_queue_frames;
  jobwire::delivery_settings delivery_cfg;
  delivery_cfg.backoff.base = std::chrono::milliseconds(cfg.retry_base_ms);
  delivery_cfg.backoff.cap = std::chrono::milliseconds(cfg.retry_cap_ms);
  delivery_cfg.slow_consumer = std::chrono::seconds(cfg.slow_consumer_seconds);
  settings.connection.slow_consumer = delivery_cfg.slow_consumer;
  delivery_cfg.max_queue_bytes = cfg.max_queue_bytes;
  delivery_cfg.max_queue_frames = cfg.max_queue_frames;
  delivery_cfg.max_parked_bytes = 4 * cfg.max_queue_bytes;
  settings.connection.ttl_ms = static_cast<int64_t>(cfg.connection_ttl) * 1000;
  jobwire::registry_settings reg;
  reg.connection_ttl_ms = settings.connection.ttl_ms;
  jobwire::job_settings jobs;
  jobs.retention_ms = static_cast<int64_t>(cfg.job_retention) * 1000;
  jobs.idle = std::chrono::seconds(cfg.job_idle);
  jobs.max_live = cfg.max_live_jobs;
  jobs.worker_grace = std::chrono::seconds(cfg.worker_grace);
  jobs.abandon_ms = static_cast<int64_t>(cfg.job_abandon) * 1000;
  // A step of a replay fills at most a quarter of a client's queue, and the
  // next is asked for once it is under half: a reader keeping up never
  // parks, nor sees progress updates coalesced.
  jobs.replay_step_frames
    = std::clamp<size_t>(cfg.max_queue_frames / 4, 1, jobs.replay_step_frames);
  jobs.replay_step_bytes
    = std::clamp<size_t>(cfg.max_queue_bytes / 4, 1, jobs.replay_step_bytes);
  // The registry blocks on fsync: it gets a thread of its own.
  auto registry = sys.spawn<caf::detached>(jobwire::registry_impl, db, reg);
  auto directory = sys.spawn(jobwire::directory_impl, db, registry, jobs);
  auto ingest = sys.spawn(jobwire::ingest_impl, directory,
                          cfg.max_ingest_pending, cfg.max_message_bytes);
  auto delivery = sys.spawn(jobwire::delivery_impl, delivery_cfg);
  jobwire::metrics::global().store_use_source([db] {
    jobwire::metrics::store_use use;
    use.used = db->env.used_bytes();
    use.size = db->env.map_size();
    try {
      use.free = db->env.free_bytes();
      jobwire::lmdb_txn txn{db->env, jobwire::lmdb_txn::read_only};
      auto stored = db->store.stored(txn);
      use.jobs = stored.jobs;
      use.events = stored.events;
      use.connections = stored.connections;
    } catch (const std::exception&) {
      // A scrape reports what it can; the store's own errors show elsewhere.
    }
    return use;
  });
  int result = EXIT_SUCCESS;
  {
    jobwire::server srv{sys, directory, registry, delivery, settings};
    // Without TLS the CAF port stays on loopback whatever --bind says (a
    // loopback --bind itself, or the loopback of its family: --bind=::1
    // had the pipelines' port on 127.0.0.1 only); with TLS, only peers
    // with a certificate from --caf-tls-ca get in.
    auto tls = !cfg.caf_tls_cert.empty();
    auto caf_host = cfg.bind;
    if (!tls && !loopback_address(cfg.bind).value_or(false))
      caf_host = cfg.bind.find(':') != std::string::npos ? "::1" : "127.0.0.1";
    // SO_REUSEADDR, as for the HTTP port: a server restarted after a crash
    // binds although the dead one's connections linger in TIME_WAIT.
    constexpr bool reuse_addr = true;
    auto caf_port = tls ? caf::openssl::publish(ingest, cfg.caf_port,
                                                caf_host.c_str(), reuse_addr)
                        : sys.middleman().publish(ingest, cfg.caf_port,
                                                  caf_host.c_str(),
                                                  reuse_addr);
    if (!caf_port) {
      result = fail("cannot publish the ingest actor on " + caf_host + ":"
                    + std::to_string(cfg.caf_port) + ": "
                    + sys.render(caf_port.error()));
    } else if (!srv.open(error)) {
      result = fail(error);
    } else {
      // Announced once a SIGTERM is handled: a supervisor that stops the
      // server right after this line gets a clean stop, not a kill.
      srv.run_until_signal([&] {
        jobwire::log::info("listening",
                           {{"bind", cfg.bind},
                            {"port", std::to_string(srv.port())}});
        jobwire::log::info("ingest published",
                           {{"caf_port", std::to_string(*caf_port)}});
        std::printf("jobwire listening on http://%s\n",
                    jobwire::host_port(cfg.bind, srv.port()).c_str());
        std::printf("jobwire caf port %u\n",
                    static_cast<unsigned>(*caf_port));
        std::fflush(stdout);
      });
    }
  }
  // Connection actors write their final records through the registry
  // before it goes.
  caf::anon_send_exit(ingest, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(delivery, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(directory, caf::exit_reason::user_shutdown);
  caf::scoped_actor self{sys};
  self->send_exit(registry, caf::exit_reason::user_shutdown);
  return result;
}

/// How soon replaced --caf-tls-* files reach new pipeline connections.
constexpr auto tls_watch_period = std::chrono::seconds(5);

void log_tls_change(const jobwire::pipeline::tls_mirror::outcome& x) {
  if (x.what == jobwire::pipeline::tls_mirror::outcome::taken)
    jobwire::log::info("CAF TLS files reloaded; new pipeline connections "
                       "get them");
  else
    jobwire::log::warn("CAF TLS files changed but not taken; pipelines still "
                       "get the previous ones",
                       {{"reason", x.reason}});
}

} // namespace

int main(int argc, char** argv) {
  // A closed log pipe (a restarting log shipper, `| head`) must not end the
  // server: the write fails and the line is lost, nothing else. Sockets
  // never raise it (asio sends with MSG_NOSIGNAL).
  std::signal(SIGPIPE, SIG_IGN);
  // Likewise a file size limit (ulimit -f): the store's write fails and the
  // publish gets storage_full, rather than the process dying.
  std::signal(SIGXFSZ, SIG_IGN);
  config cfg;
  if (auto bad = cfg.check_whole_numbers(argc, argv); !bad.empty()) {
    std::cerr << "jobwire: " << bad << " (see --help)" << std::endl;
    return EXIT_FAILURE;
  }
  if (auto bad = cfg.check_config_file(argc, argv); !bad.empty()) {
    std::cerr << "jobwire: " << bad << std::endl;
    return EXIT_FAILURE;
  }
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "jobwire: " << jobwire::describe_command_line_error(err)
              << " (see --help)" << std::endl;
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  // CAF stops reading options at the first plain word, so the options after
  // it were ignored: `jobwire serve --port=9000` listened on 8080.
  if (!cfg.remainder.empty()) {
    std::cerr << "jobwire: unexpected argument '" << cfg.remainder.front()
              << "': jobwire takes only options, written --name=value (see "
                 "--help)"
              << std::endl;
    return EXIT_FAILURE;
  }
  if (!jobwire::log::init(cfg.log_level)) {
    std::cerr << "jobwire: unknown --log-level '" << cfg.log_level
              << "' (trace, debug, info, warn, error, critical, off)"
              << std::endl;
    return EXIT_FAILURE;
  }
  cfg.load<caf::io::middleman>();
  jobwire::use_stealing_policy(cfg);
  auto tls_parts = !cfg.caf_tls_cert.empty() + !cfg.caf_tls_key.empty()
                   + !cfg.caf_tls_ca.empty();
  if (tls_parts != 0 && tls_parts != 3) {
    std::cerr << "jobwire: --caf-tls-cert, --caf-tls-key and --caf-tls-ca go "
                 "together"
              << std::endl;
    return EXIT_FAILURE;
  }
  if (auto bad = out_of_range(cfg); !bad.empty())
    return fail(bad);
  // CAF divides by it (0: SIGFPE) and starts that many threads at once.
  auto threads = caf::get_or(cfg, "scheduler.max-threads", size_t{1});
  if (auto bad = jobwire::range_error("scheduler.max-threads", threads, 1, 256);
      !bad.empty())
    return fail(bad);
  checked_settings checked;
  if (auto bad = check_settings(cfg, checked); !bad.empty())
    return fail(bad);
  // Before any thread: the check forks.
  if (cfg.store_check_seconds > 0) {
    auto took = std::chrono::steady_clock::now();
    auto check = jobwire::check_store_reads(
      cfg.data_dir, std::chrono::seconds(cfg.store_check_seconds));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - took)
                .count();
    if (check.what == jobwire::store_check::damaged)
      return fail(check.message
                  + " (or start with --store-check-seconds=0 to serve what "
                    "can be read, at the risk of a crash)");
    if (check.what == jobwire::store_check::unfinished)
      jobwire::log::warn(check.message + "; starting without the check");
    else if (check.what == jobwire::store_check::whole)
      jobwire::log::info("store read whole", {{"ms", std::to_string(ms)}});
  }
  // CAF loads the files only when a pipeline connects, and aborts the
  // server if they do not load: it gets copies that always do.
  std::unique_ptr<jobwire::pipeline::tls_mirror> tls;
  if (tls_parts == 3) {
    std::string bad;
    tls = jobwire::pipeline::tls_mirror::open(cfg.caf_tls_cert, cfg.caf_tls_key,
                                              cfg.caf_tls_ca, bad);
    if (!tls)
      return fail(bad);
    // CAF's OpenSSL module verifies peers against the CA once one is set.
    cfg.openssl_certificate = tls->identity_path();
    cfg.openssl_key = tls->identity_path();
    cfg.openssl_cafile = tls->ca_path();
    cfg.load<caf::openssl::manager>();
    tls->watch(tls_watch_period, log_tls_change);
  }
  // Connections are descriptors: take what the administrator allows.
  if (auto fds = jobwire::raise_descriptor_limit()) {
    if (fds->now > fds->before)
      jobwire::log::info("descriptor limit raised",
                         {{"from", std::to_string(fds->before)},
                          {"to", std::to_string(fds->now)}});
    cfg.client_descriptors = jobwire::client_descriptors(fds->now);
    auto needed = cfg.max_connections + cfg.max_pending_handshakes;
    if (cfg.client_descriptors < needed)
      jobwire::log::warn(
        "the descriptor limit is below what --max-connections and "
        "--max-pending-handshakes need: past it, new connections are "
        "refused until some close, and the rest of the limit stays for "
        "pipelines (raise the hard limit: ulimit -Hn, or LimitNOFILE= in a "
        "systemd unit; or lower --max-connections)",
        {{"limit", std::to_string(fds->now)},
         {"for_clients", std::to_string(cfg.client_descriptors)},
         {"needed", std::to_string(needed)}});
  }
  int result = EXIT_SUCCESS;
  {
    caf::actor_system sys{cfg};
    result = run(sys, cfg, checked);
  }
  jobwire::log::info("stopped");
  return result;
}
