// The jobwire server: HTTP and WebSocket on --port, job actors behind them.

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "actors/registry_actor.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "net/server.hpp"

namespace {

struct config : caf::actor_system_config {
  uint16_t port = 8080;
  uint16_t caf_port = 4242;
  std::string bind = "127.0.0.1";
  std::string data_dir = "./jobwire-data";
  std::string log_level = "info";
  size_t max_message_bytes = 65536;
  size_t max_fragments = 1024;
  size_t max_queue_bytes = 1 << 20;
  size_t max_subscriptions = 128;
  size_t handshake_timeout_ms = 10000;
  size_t io_threads = 1;

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
      .add(max_fragments, "max-fragments",
           "frames one WebSocket message may be split into")
      .add(max_queue_bytes, "max-queue-bytes",
           "bytes queued for one client before it is closed as slow")
      .add(max_subscriptions, "max-subscriptions",
           "jobs one connection may follow")
      .add(handshake_timeout_ms, "handshake-timeout-ms",
           "time to send a whole HTTP request or WebSocket handshake")
      .add(io_threads, "io-threads", "threads serving sockets");
    jobwire::register_types(*this);
  }
};

/// Reports a startup problem the way a person can act on.
int fail(const std::string& what) {
  jobwire::log::error(what);
  std::cerr << "jobwire: " << what << std::endl;
  return EXIT_FAILURE;
}

int run(caf::actor_system& sys, const config& cfg) {
  if (cfg.max_message_bytes == 0 || cfg.max_fragments == 0
      || cfg.io_threads == 0 || cfg.handshake_timeout_ms == 0
      || cfg.max_queue_bytes == 0)
    return fail("--max-message-bytes, --max-fragments, --max-queue-bytes, "
                "--handshake-timeout-ms and --io-threads must be positive");
  jobwire::server_settings settings;
  settings.bind = cfg.bind;
  settings.port = cfg.port;
  settings.max_message_bytes = cfg.max_message_bytes;
  settings.max_fragments = cfg.max_fragments;
  settings.max_queue_bytes = cfg.max_queue_bytes;
  settings.handshake_timeout = std::chrono::milliseconds(cfg.handshake_timeout_ms);
  settings.io_threads = static_cast<unsigned>(cfg.io_threads);
  settings.connection.max_subscriptions = cfg.max_subscriptions;
  auto registry = sys.spawn(jobwire::registry_impl);
  int result = EXIT_SUCCESS;
  {
    jobwire::server srv{sys, registry, settings};
    std::string error;
    if (!srv.open(error)) {
      result = fail(error);
    } else {
      jobwire::log::info("listening", {{"bind", cfg.bind},
                                       {"port", std::to_string(srv.port())}});
      std::printf("jobwire listening on http://%s:%u\n", cfg.bind.c_str(),
                  static_cast<unsigned>(srv.port()));
      std::fflush(stdout);
      srv.run_until_signal();
    }
  }
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  return result;
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "jobwire: " << caf::actor_system_config::render(err)
              << " (see --help)" << std::endl;
    return EXIT_FAILURE;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  if (!jobwire::log::init(cfg.log_level)) {
    std::cerr << "jobwire: unknown --log-level '" << cfg.log_level
              << "' (trace, debug, info, warn, error, critical, off)"
              << std::endl;
    return EXIT_FAILURE;
  }
  cfg.load<caf::io::middleman>();
  int result = EXIT_SUCCESS;
  {
    caf::actor_system sys{cfg};
    result = run(sys, cfg);
  }
  jobwire::log::info("stopped");
  return result;
}
