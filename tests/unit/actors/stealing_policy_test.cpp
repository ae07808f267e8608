#define BOOST_TEST_MODULE stealing_policy
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "caf/all.hpp"
#include "caf/scheduler/coordinator.hpp"

#include "actors/stealing_policy.hpp"

using namespace jobwire;

namespace {

/// What the actors of a burst saw.
struct tally {
  std::atomic<size_t> ran{0};
  std::mutex mtx;
  std::set<std::thread::id> threads;
};

caf::behavior counter(caf::event_based_actor*, tally* t) {
  return {
    [t](int work) {
      // Enough work per actor that a sleeping worker wakes up and steals.
      volatile int sink = 0;
      for (int i = 0; i < work; ++i)
        sink = sink + i;
      {
        std::lock_guard<std::mutex> guard{t->mtx};
        t->threads.insert(std::this_thread::get_id());
      }
      ++t->ran;
    },
  };
}

/// One message that schedules every actor in `targets` at once, as the
/// directory does when it stops idle jobs.
caf::behavior burst(caf::event_based_actor* self) {
  return {
    [self](std::vector<caf::actor>& targets, int work) {
      for (auto& x : targets)
        self->send(x, work);
      return targets.size();
    },
  };
}

std::vector<caf::actor> spawn_counters(caf::actor_system& sys, size_t n,
                                       tally& t) {
  std::vector<caf::actor> out(n);
  for (auto& x : out)
    x = sys.spawn(counter, &t);
  return out;
}

struct config : caf::actor_system_config {
  explicit config(size_t workers) {
    set("scheduler.max-threads", workers);
    set("logger.console-verbosity", caf::atom("quiet"));
    use_stealing_policy(*this);
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(the_actor_system_schedules_with_it) {
  config cfg{2};
  caf::actor_system sys{cfg};
  auto* sched = dynamic_cast<caf::scheduler::coordinator<stealing_policy>*>(
    &sys.scheduler());
  BOOST_TEST(sched != nullptr);
  BOOST_TEST(sys.scheduler().num_workers() == 2u);
}

BOOST_AUTO_TEST_CASE(a_burst_from_one_actor_runs_whole_on_both_workers) {
  tally t;
  constexpr size_t n = 20'000;
  {
    config cfg{2};
    caf::actor_system sys{cfg};
    auto targets = spawn_counters(sys, n, t);
    auto sender = sys.spawn(burst);
    caf::scoped_actor self{sys};
    self->request(sender, caf::infinite, targets, 20'000)
      .receive([&](size_t sent) { BOOST_TEST(sent == n); },
               [](caf::error& err) { BOOST_FAIL(caf::to_string(err)); });
    // The burst is queued; the scheduler's own shutdown waits for no
    // actor, so wait for every one to have run.
    while (t.ran.load() < n)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto& x : targets)
      caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  }
  BOOST_TEST(t.ran.load() == n);
  // The second worker took part: it stole from the first one's queue.
  BOOST_TEST(t.threads.size() == 2u);
}

BOOST_AUTO_TEST_CASE(actors_still_queued_at_shutdown_are_released) {
  // Stopping the system with a long queue frees what is left in it (the
  // sanitizer build reports a leak otherwise) and does not hang.
  tally t;
  config cfg{1};
  caf::actor_system sys{cfg};
  auto targets = spawn_counters(sys, 2'000, t);
  auto sender = sys.spawn(burst);
  caf::anon_send(sender, targets, 1'000);
  for (auto& x : targets)
    caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  targets.clear();
  BOOST_TEST(t.ran.load() <= 2'000u);
}
