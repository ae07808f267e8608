#include "jobwire_bench/caf_publisher.hpp"

#include <string_view>

#include <sys/epoll.h>

#include "jobwire_bench/clock.hpp"

namespace jobwire::bench {

namespace {

/// The JSON of an HTTP publish's body without its message, so that both
/// ways publish events of the same size.
constexpr std::string_view body_without_message
  = R"({"type":"progress_update","stage":"bench","progress":50,)"
    R"("estimated_seconds_remaining":5,"message":""})";

} // namespace

caf_publisher::caf_publisher(worker& w, size_t index,
                             std::vector<job_slot*> jobs, caf_link& link)
  : publisher(w, index, std::move(jobs)),
    box_(std::make_shared<answer_box>()),
    relay_(link.make_relay(box_)) {
}

caf_publisher::~caf_publisher() {
  close_now();
}

void caf_publisher::connect() {
  if (box_->fd() < 0) {
    note_failure("eventfd failed");
    return;
  }
  w_.watch(box_->fd(), EPOLLIN, this);
  watching_ = true;
  connected = true;
  bump(w_.counters.publishers_up);
}

void caf_publisher::close_now() {
  if (watching_) {
    w_.forget(box_->fd());
    watching_ = false;
  }
  connected = false;
}

bool caf_publisher::ready(bool&) {
  return connected;
}

void caf_publisher::start(size_t job, uint64_t now) {
  relay_->publish(jobs_[job]->id, next_progress(),
                  stamped_message(now, body_without_message.size()), job,
                  now);
  ++in_flight_;
}

void caf_publisher::on_io(uint32_t) {
  for (auto& a : box_->take()) {
    --in_flight_;
    if (a.seq != 0)
      answered(a.job, a.sent_ns, a.seq);
    else
      refused_with(a.job, "CAF: " + a.error);
  }
}

} // namespace jobwire::bench
