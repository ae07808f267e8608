// One actor schedules N others in one message, as jobwire's directory does
// when it stops idle jobs; prints how long until all N have run, under
// CAF 0.17's work-stealing policy and under jobwire's stealing_policy, with
// two workers. CAF's steal walks the victim's whole queue, so its time grows
// with the square of N.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "caf/all.hpp"

#include "actors/stealing_policy.hpp"

namespace {

caf::behavior counter(caf::event_based_actor*, std::atomic<size_t>* ran) {
  return {
    [ran](int) { ++*ran; },
  };
}

caf::behavior burst(caf::event_based_actor* self) {
  return {
    [self](const std::vector<caf::actor>& targets) {
      for (auto& x : targets)
        self->send(x, 1);
    },
  };
}

struct config : caf::actor_system_config {
  explicit config(bool ours) {
    set("scheduler.max-threads", 2);
    set("logger.console-verbosity", caf::atom("quiet"));
    if (ours)
      jobwire::use_stealing_policy(*this);
  }
};

/// Milliseconds from the burst's message to the last of `n` actors run.
double run(bool ours, size_t n) {
  std::atomic<size_t> ran{0};
  config cfg{ours};
  caf::actor_system sys{cfg};
  std::vector<caf::actor> targets;
  targets.reserve(n);
  for (size_t i = 0; i < n; ++i)
    targets.push_back(sys.spawn(counter, &ran));
  auto sender = sys.spawn(burst);
  auto start = std::chrono::steady_clock::now();
  caf::anon_send(sender, targets);
  while (ran.load() < n)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  auto took = std::chrono::steady_clock::now() - start;
  for (auto& x : targets)
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(sender, caf::exit_reason::user_shutdown);
  return std::chrono::duration<double, std::milli>(took).count();
}

} // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes{1'000, 10'000, 30'000, 100'000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i)
      sizes.push_back(std::strtoull(argv[i], nullptr, 10));
  }
  std::printf("%10s  %14s  %14s\n", "actors", "CAF stealing", "jobwire");
  for (auto n : sizes) {
    auto theirs = run(false, n);
    auto ours = run(true, n);
    std::printf("%10zu  %11.1f ms  %11.1f ms\n", n, theirs, ours);
    std::fflush(stdout);
  }
}
