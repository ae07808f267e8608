// Server memory against the number of finished jobs: starts a fresh jobwire
// for each count, publishes a progress_update and a job_complete for that
// many jobs over CAF (acknowledged, so stored), and reads the server's RSS
// from /proc before and after. Finished jobs should cost disk, not memory.
//
//   retention_bench --server=build/jobwire --counts=1000,1000000

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caf/all.hpp"
#include "caf/io/all.hpp"

#include "messages/ingest.hpp"
#include "messages/register_types.hpp"

#ifndef JOBWIRE_SERVER_PATH
#  define JOBWIRE_SERVER_PATH "jobwire"
#endif

namespace {

struct config : caf::actor_system_config {
  std::string server = JOBWIRE_SERVER_PATH;
  std::string counts = "1000,1000000";
  size_t publishers = 8;
  size_t window = 64;
  std::string durability = "nosync";

  config() {
    opt_group{custom_options_, "global"}
      .add(server, "server", "jobwire binary")
      .add(counts, "counts", "numbers of jobs, comma-separated")
      .add(publishers, "publishers", "publisher actors")
      .add(window, "window", "requests in flight per publisher")
      .add(durability, "durability", "the server's --durability");
    jobwire::register_types(*this);
  }
};

/// A jobwire process on free ports in a temporary data directory.
struct server_process {
  pid_t pid = -1;
  uint16_t caf_port = 0;
  std::string dir;

  server_process(const std::string& binary, const std::string& durability) {
    char tmpl[] = "/tmp/jobwire-retention-XXXXXX";
    dir = mkdtemp(tmpl);
    int out[2];
    if (pipe(out) != 0)
      throw std::runtime_error("pipe failed");
    pid = fork();
    if (pid == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      auto null = fopen("/dev/null", "w");
      dup2(fileno(null), STDERR_FILENO);
      std::string data = "--data-dir=" + dir + "/data";
      std::string dur = "--durability=" + durability;
      execl(binary.c_str(), binary.c_str(), "--port=0", "--caf-port=0",
            data.c_str(), dur.c_str(), "--log-level=warn", nullptr);
      _exit(127);
    }
    close(out[1]);
    // Read the two start-up lines: the HTTP port, then the CAF port.
    std::string text;
    char buf[256];
    while (text.find("caf port") == std::string::npos
           || text.back() != '\n') {
      auto n = read(out[0], buf, sizeof(buf));
      if (n <= 0)
        throw std::runtime_error("jobwire did not start: " + text);
      text.append(buf, static_cast<size_t>(n));
    }
    close(out[0]);
    caf_port = static_cast<uint16_t>(
      std::stoi(text.substr(text.find("caf port ") + 9)));
  }

  ~server_process() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    std::filesystem::remove_all(dir);
  }

  /// A field of /proc/PID/status in KiB: VmRSS, RssAnon (heap: what the
  /// server holds) or RssFile (mapped file pages: LMDB's, reclaimable).
  long status_kib(const std::string& field) const {
    std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(field + ":", 0) == 0)
        return std::stol(line.substr(field.size() + 1));
    return -1;
  }
};

/// Publishes both events of jobs `first`, `first + step`, ... below `end`,
/// keeping `window` requests in flight.
void publisher(caf::event_based_actor* self, jobwire::ingest_actor ingest,
               size_t first, size_t step, size_t end, size_t window,
               std::shared_ptr<std::atomic<size_t>> failures) {
  struct state {
    size_t next;
    size_t in_flight = 0;
  };
  auto st = std::make_shared<state>(state{first});
  auto send_next = std::make_shared<std::function<void()>>();
  *send_next = [=] {
    while (st->in_flight < window && st->next < end) {
      auto job = "ret_" + std::to_string(st->next);
      st->next += step;
      jobwire::job_event progress;
      progress.type = jobwire::event_type::progress_update;
      progress.job_id = job;
      progress.stage = "work";
      progress.progress = 50;
      progress.message = "half way";
      ++st->in_flight;
      self->request(ingest, caf::infinite, jobwire::publish_atom::value,
                    progress)
        .then(
          [=](const std::string&, uint64_t) {
            jobwire::job_event done;
            done.type = jobwire::event_type::job_complete;
            done.job_id = job;
            done.results = R"({"ok":true})";
            self->request(ingest, caf::infinite, jobwire::publish_atom::value,
                          done)
              .then(
                [=](const std::string&, uint64_t) {
                  --st->in_flight;
                  (*send_next)();
                },
                [=](caf::error&) {
                  ++*failures;
                  --st->in_flight;
                  (*send_next)();
                });
          },
          [=](caf::error&) {
            ++*failures;
            --st->in_flight;
            (*send_next)();
          });
    }
    if (st->in_flight == 0 && st->next >= end)
      self->quit();
  };
  (*send_next)();
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  if (auto err = cfg.parse(argc, argv)) {
    std::fprintf(stderr, "%s\n", caf::actor_system_config::render(err).c_str());
    return 1;
  }
  if (cfg.cli_helptext_printed)
    return 0;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  std::vector<size_t> counts;
  std::stringstream ss{cfg.counts};
  for (std::string x; std::getline(ss, x, ',');)
    counts.push_back(std::stoul(x));
  std::printf("%10s %10s %14s %14s %14s %12s\n", "jobs", "events/s",
              "anon before", "anon after", "file after", "anon/job");
  for (auto n : counts) {
    server_process server{cfg.server, cfg.durability};
    auto ingest = sys.middleman().remote_actor<jobwire::ingest_actor>(
      "127.0.0.1", server.caf_port);
    if (!ingest) {
      std::fprintf(stderr, "cannot reach jobwire: %s\n",
                   sys.render(ingest.error()).c_str());
      return 1;
    }
    auto before = server.status_kib("RssAnon");
    auto failures = std::make_shared<std::atomic<size_t>>(0);
    auto start = std::chrono::steady_clock::now();
    {
      caf::scoped_actor self{sys};
      std::vector<caf::actor> all;
      for (size_t p = 0; p < cfg.publishers; ++p)
        all.push_back(sys.spawn(publisher, *ingest, p, cfg.publishers, n,
                                cfg.window, failures));
      for (auto& a : all)
        self->wait_for(a);
    }
    std::chrono::duration<double> took = std::chrono::steady_clock::now()
                                         - start;
    // Finished jobs leave memory at once; give the last ones a moment.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto after = server.status_kib("RssAnon");
    std::printf("%10zu %10.0f %10ld KiB %10ld KiB %10ld KiB %10.1f B\n", n,
                2.0 * n / took.count(), before, after,
                server.status_kib("RssFile"),
                1024.0 * static_cast<double>(after - before)
                  / static_cast<double>(n));
    if (*failures > 0) {
      std::printf("FAILED: %zu publishes were refused\n", failures->load());
      return 1;
    }
  }
  return 0;
}
