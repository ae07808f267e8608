#include "jobwire_bench/worker.hpp"

#include <cerrno>
#include <cstdio>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "jobwire_bench/clock.hpp"
#include "jobwire_bench/publisher.hpp"
#include "jobwire_bench/ws_client.hpp"

namespace jobwire::bench {

namespace {

/// The eventfd's handler: posted tasks are run by the loop itself.
class wake_handler final : public io_handler {
public:
  explicit wake_handler(int fd) : fd_(fd) {
    // nop
  }

  void on_io(uint32_t) override {
    uint64_t n;
    [[maybe_unused]] auto r = read(fd_, &n, sizeof(n));
  }

private:
  int fd_;
};

} // namespace

worker::worker(size_t index, shared_run& r)
  : run(r), index_(index), scratch_(256 * 1024) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wakefd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  auto threads = std::max<size_t>(r.opt->threads, 1);
  max_connecting_ = std::max<size_t>(r.opt->connect_concurrency / threads, 1);
}

worker::~worker() {
  stop();
  clients.clear();
  publishers.clear();
  if (epfd_ >= 0)
    close(epfd_);
  if (wakefd_ >= 0)
    close(wakefd_);
}

void worker::start() {
  thread_ = std::thread{[this] { loop(); }};
}

void worker::stop() {
  if (!thread_.joinable())
    return;
  stop_ = true;
  uint64_t one = 1;
  [[maybe_unused]] auto r = write(wakefd_, &one, sizeof(one));
  thread_.join();
}

void worker::post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    tasks_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto r = write(wakefd_, &one, sizeof(one));
}

void worker::for_each_client(std::function<void(ws_client&)> fn) {
  post([this, fn = std::move(fn)] {
    for (auto& c : clients)
      fn(*c);
  });
}

void worker::watch(int fd, uint32_t events, io_handler* h) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = h;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
}

void worker::rewatch(int fd, uint32_t events, io_handler* h) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = h;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
}

void worker::forget(int fd) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
}

void worker::queue_connect(ws_client* c) {
  connect_queue_.push_back(c);
}

void worker::connect_done() {
  if (connecting_ > 0)
    --connecting_;
}

void worker::loop() {
  wake_handler waker{wakefd_};
  watch(wakefd_, EPOLLIN, &waker);
  std::vector<epoll_event> events(1024);
  std::vector<std::function<void()>> tasks;
  while (!stop_.load(std::memory_order_relaxed)) {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      tasks.swap(tasks_);
    }
    for (auto& fn : tasks)
      fn();
    tasks.clear();
    while (connecting_ < max_connecting_ && !connect_queue_.empty()) {
      auto c = connect_queue_.front();
      connect_queue_.pop_front();
      ++connecting_;
      c->connect();
    }
    bool pacing = false;
    if (run.publishing.load(std::memory_order_acquire)) {
      auto now = now_ns();
      for (auto& p : publishers)
        pacing |= p->pump(now);
    }
    // Publishers waiting for room or for their next due time look again
    // every millisecond; otherwise sleep until something happens.
    int timeout = pacing ? 1 : 50;
    int n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()),
                       timeout);
    if (n < 0 && errno != EINTR) {
      std::perror("epoll_wait");
      return;
    }
    for (int i = 0; i < n; ++i)
      static_cast<io_handler*>(events[i].data.ptr)->on_io(events[i].events);
  }
  forget(wakefd_);
}

} // namespace jobwire::bench
