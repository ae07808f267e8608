#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "caf/policy/unprofiled.hpp"
#include "caf/resumable.hpp"
#include "caf/scheduler/abstract_coordinator.hpp"

namespace caf {
class actor_system_config;
} // namespace caf

namespace jobwire {

/// Work stealing whose steal costs the same whatever the victim's queue
/// holds. CAF 0.17's own policy keeps each worker's queue as a singly linked
/// list and finds the node before its tail by walking from the head, under
/// the victim's locks: every steal cost the whole queue. An actor that
/// schedules many others in one message (the directory stopping 100,000
/// idle jobs, or ticking them) stalled both workers for seconds, and every
/// publish behind it. Here each worker's queue is a deque under a mutex.
///
/// The waiting follows CAF's: poll the own queue, stealing now and then;
/// then, if moderate polling is on, poll with short sleeps; then sleep on a
/// condition variable that an enqueue from outside wakes. Its knobs are
/// CAF's `work-stealing.*` options.
class stealing_policy : public caf::policy::unprofiled {
public:
  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {
      // nop
    }

    /// Round robin over the workers, for jobs from outside any worker.
    std::atomic<size_t> next_worker{0};
  };

  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator* parent);

    /// Each worker gets a copy of the coordinator's first one.
    worker_data(const worker_data& other);

    std::mutex mtx;
    std::condition_variable wakeup;
    /// Front: what this worker runs next; back: what a thief takes.
    std::deque<caf::resumable*> queue;
    bool sleeping = false;
    std::minstd_rand rng;
    size_t aggressive_attempts;
    size_t aggressive_steal_every;
    size_t moderate_attempts;
    size_t moderate_steal_every;
    std::chrono::nanoseconds moderate_sleep;
    size_t relaxed_steal_every;
    std::chrono::nanoseconds relaxed_sleep;
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    auto n = d(self).next_worker++ % self->num_workers();
    self->worker_by_id(n)->external_enqueue(job);
  }

  /// From another thread: the worker may sleep.
  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    auto& x = d(self);
    std::lock_guard<std::mutex> guard{x.mtx};
    x.queue.push_back(job);
    if (x.sleeping)
      x.wakeup.notify_one();
  }

  /// From the worker itself, scheduling an actor it sent to: runs next.
  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    auto& x = d(self);
    std::lock_guard<std::mutex> guard{x.mtx};
    x.queue.push_front(job);
  }

  /// An actor that used up its throughput goes behind the others.
  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    auto& x = d(self);
    std::lock_guard<std::mutex> guard{x.mtx};
    x.queue.push_back(job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& x = d(self);
    for (size_t i = 0; i < x.aggressive_attempts; ++i)
      if (auto job = next_job(self, i % x.aggressive_steal_every == 0))
        return job;
    for (size_t i = 0; i < x.moderate_attempts; ++i) {
      if (auto job = next_job(self, i % x.moderate_steal_every == 0))
        return job;
      std::this_thread::sleep_for(x.moderate_sleep);
    }
    for (size_t i = 1;; ++i) {
      {
        std::unique_lock<std::mutex> guard{x.mtx};
        x.sleeping = true;
        x.wakeup.wait_for(guard, x.relaxed_sleep,
                          [&] { return !x.queue.empty(); });
        x.sleeping = false;
        if (!x.queue.empty())
          return pop_front(x);
      }
      if (i % x.relaxed_steal_every == 0)
        if (auto job = steal(self))
          return job;
    }
  }

  template <class Worker, class F>
  void foreach_resumable(Worker* self, F f) {
    auto& x = d(self);
    for (;;) {
      caf::resumable* job = nullptr;
      {
        std::lock_guard<std::mutex> guard{x.mtx};
        if (x.queue.empty())
          return;
        job = pop_front(x);
      }
      f(job);
    }
  }

  template <class Coordinator, class F>
  void foreach_central_resumable(Coordinator*, F) {
    // nop: jobs from outside go straight to a worker's queue
  }

private:
  static caf::resumable* pop_front(worker_data& x) {
    auto job = x.queue.front();
    x.queue.pop_front();
    return job;
  }

  /// The worker's own next job or, when `may_steal`, another's oldest.
  template <class Worker>
  caf::resumable* next_job(Worker* self, bool may_steal) {
    auto& x = d(self);
    {
      std::lock_guard<std::mutex> guard{x.mtx};
      if (!x.queue.empty())
        return pop_front(x);
    }
    return may_steal ? steal(self) : nullptr;
  }

  template <class Worker>
  caf::resumable* steal(Worker* self) {
    auto parent = self->parent();
    auto n = parent->num_workers();
    if (n < 2)
      return nullptr;
    // Any worker but this one.
    auto victim = std::uniform_int_distribution<size_t>{0, n - 2}(d(self).rng);
    if (victim >= self->id())
      ++victim;
    auto& y = d(parent->worker_by_id(victim));
    std::lock_guard<std::mutex> guard{y.mtx};
    if (y.queue.empty())
      return nullptr;
    auto job = y.queue.back();
    y.queue.pop_back();
    return job;
  }
};

/// Makes the actor system of `cfg` schedule with `stealing_policy`.
void use_stealing_policy(caf::actor_system_config& cfg);

} // namespace jobwire
