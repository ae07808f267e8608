// Events per second from 1, 4 and 16 publishers into jobwire over CAF,
// stored and acknowledged. Each publisher keeps a window of requests in
// flight and sends the next one when an acknowledgement comes back.
//
// Publishers are actors of this process sharing one CAF connection
// (--mode=actors), or processes of their own, one connection each
// (--mode=processes). Without --caf-port the benchmark starts a jobwire of
// its own on a temporary data directory.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/ingest.hpp"
#include "messages/log.hpp"
#include "pipeline/client.hpp"
#include "pipeline/error_text.hpp"
#include "pipeline/event_id.hpp"

#ifndef JOBWIRE_SERVER_PATH
#  define JOBWIRE_SERVER_PATH "jobwire"
#endif

namespace {

using namespace std::chrono_literals;
namespace pl = jobwire::pipeline;
using clock_type = std::chrono::steady_clock;

struct config : caf::actor_system_config {
  std::string host = "127.0.0.1";
  uint16_t caf_port = 0;
  size_t duration = 5;
  size_t window = 32;
  std::string configs = "1,4,16";
  std::string mode = "actors";
  std::string server = JOBWIRE_SERVER_PATH;
  std::string durability = "sync";
  // Set by the parent for a publisher process.
  bool child = false;
  std::string job_prefix;
  int64_t start_at_ms = 0;

  config() {
    opt_group{custom_options_, "global"}
      .add(host, "host", "jobwire's host")
      .add(caf_port, "caf-port",
           "jobwire's CAF port (0: start a jobwire of our own)")
      .add(duration, "duration", "seconds per configuration")
      .add(window, "window", "requests in flight per publisher")
      .add(configs, "configs", "publisher counts, comma-separated")
      .add(mode, "mode", "actors (one process) or processes")
      .add(server, "server", "jobwire binary to start without --caf-port")
      .add(durability, "durability",
           "--durability of the jobwire we start: sync, nometasync, nosync")
      .add(child, "child", "internal: run as one publisher process")
      .add(job_prefix, "job-prefix", "internal: job id of a publisher")
      .add(start_at_ms, "start-at-ms", "internal: when to start (unix ms)");
    pl::configure(*this);
  }
};

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// -- one publisher ---------------------------------------------------------------

/// What one publisher measured.
struct tally {
  uint64_t acked = 0; // acknowledgements within the measured window
  uint64_t errors = 0;
  std::vector<int64_t> latencies_us;
  std::string first_error;

  void merge(const tally& other) {
    acked += other.acked;
    errors += other.errors;
    latencies_us.insert(latencies_us.end(), other.latencies_us.begin(),
                        other.latencies_us.end());
    if (first_error.empty())
      first_error = other.first_error;
  }
};

struct publisher_state {
  std::shared_ptr<tally> out;
  std::unique_ptr<pl::event_id_source> ids;
  uint64_t next = 0;
  size_t in_flight = 0;
  static inline const char* name = "bench.publisher";
};

/// Publishes progress updates of job `job_id` until `end`, with `window`
/// requests in flight; quits when the last reply is in.
caf::behavior publisher(caf::stateful_actor<publisher_state>* self,
                        jobwire::ingest_actor ingest, std::string job_id,
                        size_t window, clock_type::time_point start,
                        clock_type::time_point end,
                        std::shared_ptr<tally> out) {
  self->state.out = out;
  self->state.ids = std::make_unique<pl::event_id_source>();
  auto send_one = std::make_shared<std::function<void()>>();
  *send_one = [=] {
    auto& st = self->state;
    jobwire::job_event ev;
    ev.type = jobwire::event_type::progress_update;
    ev.job_id = job_id;
    ev.stage = "bench";
    ev.progress = static_cast<double>(st.next % 101);
    ev.message = "event " + std::to_string(st.next);
    ev.event_id = st.ids->next();
    ++st.next;
    ++st.in_flight;
    auto sent = clock_type::now();
    self->request(ingest, 30s, jobwire::publish_atom::value, std::move(ev))
      .then(
        [=](const std::string&, uint64_t) {
          auto now = clock_type::now();
          auto& st = self->state;
          --st.in_flight;
          if (now >= start && now <= end) {
            ++st.out->acked;
            st.out->latencies_us.push_back(
              std::chrono::duration_cast<std::chrono::microseconds>(now - sent)
                .count());
          }
          if (now < end)
            (*send_one)();
          else if (st.in_flight == 0)
            self->quit();
        },
        [=](caf::error& err) {
          auto& st = self->state;
          --st.in_flight;
          ++st.out->errors;
          if (st.out->first_error.empty())
            st.out->first_error = pl::error_text(err);
          if (clock_type::now() < end)
            (*send_one)();
          else if (st.in_flight == 0)
            self->quit();
        });
  };
  for (size_t i = 0; i < window; ++i)
    (*send_one)();
  // Break the self-reference of send_one when done.
  self->attach_functor([send_one](const caf::error&) { *send_one = nullptr; });
  return {[](caf::tick_atom) {}};
}

/// Runs `n` publisher actors against `ingest` and returns their sum.
tally run_actors(caf::actor_system& sys, const jobwire::ingest_actor& ingest,
                 const std::string& prefix, size_t n, size_t window,
                 clock_type::time_point start, clock_type::time_point end) {
  std::vector<std::shared_ptr<tally>> parts;
  std::vector<caf::actor> actors;
  for (size_t i = 0; i < n; ++i) {
    parts.push_back(std::make_shared<tally>());
    actors.push_back(sys.spawn(publisher, ingest,
                               prefix + "_" + std::to_string(i), window, start,
                               end, parts.back()));
  }
  caf::scoped_actor self{sys, true};
  for (auto& x : actors)
    self->wait_for(x);
  tally total;
  for (auto& x : parts)
    total.merge(*x);
  return total;
}

// -- child processes ---------------------------------------------------------------

/// A child's report: `acked errors p50_us p99_us` plus its latencies are too
/// many to print, so children report their own percentiles.
struct child_report {
  uint64_t acked = 0;
  uint64_t errors = 0;
  int64_t p50_us = 0;
  int64_t p99_us = 0;
};

int64_t percentile(std::vector<int64_t>& xs, double p) {
  if (xs.empty())
    return 0;
  auto k = static_cast<size_t>(p * static_cast<double>(xs.size() - 1));
  std::nth_element(xs.begin(), xs.begin() + static_cast<long>(k), xs.end());
  return xs[k];
}

struct child {
  pid_t pid = -1;
  int out_fd = -1;
  std::string out;
};

child start_child(const char* self_path, const config& cfg, uint16_t port,
                  const std::string& job_prefix, int64_t start_at_ms) {
  std::vector<std::string> args{
    self_path,
    "--child",
    "--host=" + cfg.host,
    "--caf-port=" + std::to_string(port),
    "--duration=" + std::to_string(cfg.duration),
    "--window=" + std::to_string(cfg.window),
    "--job-prefix=" + job_prefix,
    "--start-at-ms=" + std::to_string(start_at_ms),
    // Load generators share the cores with jobwire: keep them lean.
    "--scheduler.max-threads=1",
  };
  std::vector<char*> argv;
  for (auto& x : args)
    argv.push_back(x.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe2 failed");
  child result;
  result.pid = fork();
  if (result.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  result.out_fd = fds[0];
  return result;
}

child_report finish_child(child& c) {
  char buf[512];
  ssize_t n;
  while ((n = read(c.out_fd, buf, sizeof(buf))) > 0)
    c.out.append(buf, static_cast<size_t>(n));
  close(c.out_fd);
  int status = 0;
  waitpid(c.pid, &status, 0);
  child_report r;
  std::istringstream in{c.out};
  if (!(in >> r.acked >> r.errors >> r.p50_us >> r.p99_us))
    std::cerr << "pipeline_bench: a publisher process reported '" << c.out
              << "'" << std::endl;
  return r;
}

/// Runs as one publisher process: connects, waits for the common start,
/// publishes, prints `acked errors p50_us p99_us`.
int child_main(caf::actor_system& sys, const config& cfg) {
  pl::client_settings settings;
  settings.host = cfg.host;
  settings.port = cfg.caf_port;
  auto cli = pl::client::connect(sys, settings);
  if (!cli) {
    std::cerr << "pipeline_bench: cannot reach jobwire: "
              << pl::error_text(cli.error()) << std::endl;
    std::printf("0 1 0 0\n");
    return EXIT_FAILURE;
  }
  auto wait = std::chrono::milliseconds{cfg.start_at_ms - unix_ms()};
  if (wait > 0ms)
    std::this_thread::sleep_for(wait);
  auto start = clock_type::now();
  auto end = start + std::chrono::seconds{cfg.duration};
  auto t = run_actors(sys, cli->ingest(), cfg.job_prefix, 1, cfg.window, start,
                      end);
  std::printf("%llu %llu %lld %lld\n", static_cast<unsigned long long>(t.acked),
              static_cast<unsigned long long>(t.errors),
              static_cast<long long>(percentile(t.latencies_us, 0.5)),
              static_cast<long long>(percentile(t.latencies_us, 0.99)));
  return EXIT_SUCCESS;
}

// -- a jobwire of our own ----------------------------------------------------------

struct own_server {
  pid_t pid = -1;
  std::string dir;
  uint16_t caf_port = 0;

  ~own_server() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status = 0;
      waitpid(pid, &status, 0);
    }
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

/// Starts jobwire and reads its CAF port; false on failure.
bool start_server(const config& cfg, own_server& srv) {
  char tmpl[] = "/tmp/jobwire-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    return false;
  srv.dir = tmpl;
  std::vector<std::string> args{cfg.server,
                                "--port=0",
                                "--caf-port=0",
                                "--data-dir=" + srv.dir,
                                "--log-level=warn",
                                "--durability=" + cfg.durability};
  std::vector<char*> argv;
  for (auto& x : args)
    argv.push_back(x.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    return false;
  srv.pid = fork();
  if (srv.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(fds[1], 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  auto deadline = clock_type::now() + 15s;
  constexpr std::string_view prefix = "jobwire caf port ";
  while (clock_type::now() < deadline) {
    pollfd pfd{fds[0], POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0)
      continue;
    char buf[256];
    auto n = read(fds[0], buf, sizeof(buf));
    if (n <= 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    auto pos = out.find(prefix);
    if (pos != std::string::npos && out.find('\n', pos) != std::string::npos) {
      srv.caf_port = static_cast<uint16_t>(
        std::strtoul(out.c_str() + pos + prefix.size(), nullptr, 10));
      break;
    }
  }
  // Keep the pipe open in a thread that drains it, so jobwire never blocks.
  std::thread{[fd = fds[0]] {
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
      // nop
    }
    close(fd);
  }}.detach();
  return srv.caf_port != 0;
}

std::vector<size_t> parse_configs(const std::string& x) {
  std::vector<size_t> result;
  std::istringstream in{x};
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty())
      result.push_back(std::stoul(item));
  return result;
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::cerr << "pipeline_bench: " << caf::actor_system_config::render(err)
              << std::endl;
    return 2;
  }
  if (cfg.cli_helptext_printed)
    return EXIT_SUCCESS;
  jobwire::log::init("error");
  if (cfg.mode != "actors" && cfg.mode != "processes") {
    std::cerr << "pipeline_bench: --mode is actors or processes" << std::endl;
    return 2;
  }
  std::vector<size_t> counts;
  try {
    counts = parse_configs(cfg.configs);
  } catch (...) {
    std::cerr << "pipeline_bench: --configs takes numbers like 1,4,16"
              << std::endl;
    return 2;
  }
  caf::actor_system sys{cfg};
  if (cfg.child)
    return child_main(sys, cfg);
  own_server srv;
  auto port = cfg.caf_port;
  if (port == 0) {
    if (!start_server(cfg, srv)) {
      std::cerr << "pipeline_bench: cannot start " << cfg.server << std::endl;
      return EXIT_FAILURE;
    }
    port = srv.caf_port;
  }
  pl::client_settings settings;
  settings.host = cfg.host;
  settings.port = port;
  auto cli = pl::client::connect(sys, settings);
  if (!cli) {
    std::cerr << "pipeline_bench: cannot reach jobwire at " << cfg.host << ":"
              << port << ": " << pl::error_text(cli.error()) << std::endl;
    return EXIT_FAILURE;
  }
  auto run_id = pl::event_id_source::random_prefix().substr(0, 8);
  std::printf("# jobwire pipeline_bench: mode=%s window=%zu duration=%zus "
              "server=%s durability=%s\n",
              cfg.mode.c_str(), cfg.window, cfg.duration,
              cfg.caf_port == 0 ? "own" : "given",
              cfg.caf_port == 0 ? cfg.durability.c_str() : "?");
  std::printf("%-10s %12s %12s %10s %10s %8s\n", "publishers", "events",
              "events/s", "p50_ms", "p99_ms", "errors");
  std::fflush(stdout);
  for (auto n : counts) {
    auto prefix = "bench_" + run_id + "_" + std::to_string(n);
    uint64_t acked = 0;
    uint64_t errors = 0;
    int64_t p50 = 0;
    int64_t p99 = 0;
    std::string first_error;
    if (cfg.mode == "actors") {
      auto start = clock_type::now();
      auto end = start + std::chrono::seconds{cfg.duration};
      auto t = run_actors(sys, cli->ingest(), prefix, n, cfg.window, start,
                          end);
      acked = t.acked;
      errors = t.errors;
      p50 = percentile(t.latencies_us, 0.5);
      p99 = percentile(t.latencies_us, 0.99);
      first_error = t.first_error;
    } else {
      auto start_at = unix_ms() + 1000 + static_cast<int64_t>(n) * 100;
      std::vector<child> children;
      for (size_t i = 0; i < n; ++i)
        children.push_back(start_child(argv[0], cfg, port,
                                       prefix + "_" + std::to_string(i),
                                       start_at));
      std::vector<int64_t> p50s;
      for (auto& c : children) {
        auto r = finish_child(c);
        acked += r.acked;
        errors += r.errors;
        p50s.push_back(r.p50_us);
        p99 = std::max(p99, r.p99_us);
      }
      p50 = percentile(p50s, 0.5);
    }
    std::printf("%-10zu %12llu %12.0f %10.2f %10.2f %8llu\n", n,
                static_cast<unsigned long long>(acked),
                static_cast<double>(acked) / static_cast<double>(cfg.duration),
                static_cast<double>(p50) / 1000.0,
                static_cast<double>(p99) / 1000.0,
                static_cast<unsigned long long>(errors));
    if (!first_error.empty())
      std::printf("#   first error: %s\n", first_error.c_str());
    std::fflush(stdout);
  }
  return EXIT_SUCCESS;
}
