#include "actors/job_api.hpp"

#include <atomic>
#include <chrono>
#include <vector>

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"

namespace jobwire {

namespace {

// Long enough for any healthy server; a request still open after it means a
// stuck actor, and the client should hear about it.
constexpr auto request_timeout = std::chrono::seconds(30);

} // namespace

api_response error_response(const caf::error& err) {
  auto code = to_error_code(err);
  auto message = error_message(err);
  if (code == error_code::internal) {
    log::error("request failed", {{"reason", caf::to_string(err)}});
    message = "the server could not complete the request";
  }
  return {http_status(code), encode_http_error(code, message)};
}

/// One request to make from a bridge actor.
struct api_task {
  std::function<void(caf::event_based_actor*)> run;
};

} // namespace jobwire

// Local only: the bridges are in this process.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(jobwire::api_task)

namespace jobwire {

// Code outside actors cannot wait for replies, so requests are made from a
// few long-lived actors; spawning one per request cost more than the
// request itself.
class job_api::bridges {
public:
  bridges(caf::actor_system& sys, size_t n) {
    for (size_t i = 0; i < n; ++i)
      actors_.push_back(sys.spawn([](caf::event_based_actor* self) {
        return caf::behavior{[self](api_task& task) { task.run(self); }};
      }));
  }

  ~bridges() {
    for (auto& a : actors_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  bridges(const bridges&) = delete;
  bridges& operator=(const bridges&) = delete;

  size_t pick() {
    return next_.fetch_add(1, std::memory_order_relaxed) % actors_.size();
  }

  void run(size_t bridge, api_task task) {
    caf::anon_send(actors_[bridge % actors_.size()], std::move(task));
  }

private:
  std::vector<caf::actor> actors_;
  std::atomic<size_t> next_{0};
};

job_api::job_api(caf::actor_system& sys, directory_actor directory)
  : directory_(std::move(directory)),
    bridges_(std::make_shared<bridges>(
      sys, std::max<size_t>(1, sys.scheduler().num_workers()))) {
  // nop
}

namespace {

/// Asks the directory `xs...` from a bridge: `on_ok` gets the answer,
/// errors become their HTTP response.
template <class OnOk, class... Ts>
void ask(job_api::bridges& bridges, size_t bridge, const directory_actor& dir,
         const api_callback& cb, OnOk on_ok, Ts... xs) {
  bridges.run(bridge, {[=](caf::event_based_actor* self) {
    self->request(dir, request_timeout, xs...)
      .then(on_ok, [cb](caf::error& err) { cb(error_response(err)); });
  }});
}

} // namespace

size_t job_api::pick_bridge() const {
  return bridges_->pick();
}

void job_api::publish(size_t bridge, job_event ev, api_callback cb) const {
  auto job_id = ev.job_id;
  ask(*bridges_, bridge, directory_, cb,
      [job_id, cb](uint64_t seq) {
        cb({202, encode_publish_ack(job_id, seq)});
      },
      publish_atom::value, std::move(ev));
}

void job_api::status(size_t bridge, std::string job_id,
                     api_callback cb) const {
  ask(*bridges_, bridge, directory_, cb,
      [cb](const job_snapshot& snap) { cb({200, encode_snapshot(snap)}); },
      status_atom::value, std::move(job_id));
}

void job_api::cancel(size_t bridge, std::string job_id, std::string reason,
                     api_callback cb) const {
  ask(*bridges_, bridge, directory_, cb,
      [cb](const job_snapshot& snap) { cb({202, encode_snapshot(snap)}); },
      cancel_atom::value, std::move(job_id), std::move(reason));
}

void job_api::connections(size_t bridge, std::string job_id,
                          api_callback cb) const {
  ask(*bridges_, bridge, directory_, cb,
      [job_id, cb](const std::vector<std::string>& ids) {
        cb({200, encode_connections(job_id, ids)});
      },
      conns_atom::value, job_id);
}

} // namespace jobwire
