#include "actors/job_api.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <vector>

#include "caf/all.hpp"

#include "messages/error_code.hpp"
#include "messages/json_codec.hpp"
#include "messages/log.hpp"

namespace jobwire {

api_response error_response(const caf::error& err) {
  auto code = to_error_code(err);
  auto message = error_message(err);
  if (code == error_code::internal) {
    log::error("request failed", {{"reason", caf::to_string(err)}});
    message = "the server could not complete the request";
  }
  return {http_status(code), encode_http_error(code, message)};
}

namespace {

using expire_atom = caf::atom_constant<caf::atom("expire")>;

/// The answers a bridge still waits for, oldest first (ids grow with time
/// and every request gets the same timeout). One timer per bridge expires
/// them: a CAF timeout per request woke CAF's clock thread on each publish,
/// ~10 % of the server's core under many-jobs load.
struct bridge_state {
  struct waiting {
    caf::actor_clock::time_point deadline;
    api_callback cb;
  };
  std::chrono::milliseconds timeout{0};
  std::map<uint64_t, waiting> pending;
  uint64_t next_id = 0;
  bool expiry_scheduled = false;
};

using bridge_actor = caf::stateful_actor<bridge_state>;

void schedule_expiry(bridge_actor* self) {
  auto& st = self->state;
  if (st.expiry_scheduled || st.pending.empty())
    return;
  st.expiry_scheduled = true;
  auto wait = st.pending.begin()->second.deadline - self->clock().now();
  self->delayed_send(self, std::max(wait, caf::actor_clock::duration_type{0}),
                     expire_atom::value);
}

void expire(bridge_actor* self) {
  auto& st = self->state;
  st.expiry_scheduled = false;
  auto now = self->clock().now();
  while (!st.pending.empty() && st.pending.begin()->second.deadline <= now) {
    auto cb = std::move(st.pending.begin()->second.cb);
    st.pending.erase(st.pending.begin());
    log::error("request timed out",
               {{"timeout_ms", std::to_string(st.timeout.count())}});
    cb({http_status(error_code::internal),
        encode_http_error(error_code::internal,
                          "the server did not answer in time")});
  }
  schedule_expiry(self);
}

/// Registers `cb` as waiting and returns the callback to answer with: it
/// answers once, and not at all after the request expired.
api_callback watch(bridge_actor* self, api_callback cb) {
  auto& st = self->state;
  auto id = st.next_id++;
  st.pending.emplace(id, bridge_state::waiting{self->clock().now() + st.timeout,
                                               std::move(cb)});
  schedule_expiry(self);
  return [self, id](api_response r) {
    auto i = self->state.pending.find(id);
    if (i == self->state.pending.end())
      return; // expired: the client has had its answer
    auto f = std::move(i->second.cb);
    self->state.pending.erase(i);
    f(std::move(r));
  };
}

} // namespace

/// One request to make from a bridge actor.
struct api_task {
  std::function<void(bridge_actor*)> run;
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
  bridges(caf::actor_system& sys, size_t n, std::chrono::milliseconds timeout)
    : sys_(sys) {
    for (size_t i = 0; i < n; ++i)
      actors_.push_back(sys.spawn([timeout](bridge_actor* self) {
        self->state.timeout = timeout;
        return caf::behavior{
          [self](api_task& task) { task.run(self); },
          [self](expire_atom) { expire(self); },
        };
      }));
  }

  ~bridges() {
    for (auto& a : actors_)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }

  void stop() {
    caf::scoped_actor self{sys_};
    for (auto& a : actors_)
      self->send_exit(a, caf::exit_reason::user_shutdown);
    self->wait_for(actors_);
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
  caf::actor_system& sys_;
  std::vector<caf::actor> actors_;
  std::atomic<size_t> next_{0};
};

job_api::job_api(caf::actor_system& sys, directory_actor directory,
                 std::chrono::milliseconds timeout)
  : directory_(std::move(directory)),
    bridges_(std::make_shared<bridges>(
      sys, std::max<size_t>(1, sys.scheduler().num_workers()), timeout)) {
  // nop
}

namespace {

/// The reply type a response-making function takes: CAF 0.17 deduces a
/// reply handler's signature, so the handler needs it spelled out.
template <class F>
struct reply_of : reply_of<decltype(&F::operator())> {};

template <class C, class R, class T>
struct reply_of<R (C::*)(T) const> {
  using type = T;
};

/// Asks the directory `xs...` from a bridge and answers with
/// `to_response(reply)`, or with an error's HTTP response. Without CAF's own
/// request timeout (see bridge_state).
template <class ToResponse, class... Ts>
void ask(job_api::bridges& bridges, size_t bridge, const directory_actor& dir,
         const api_callback& cb, ToResponse to_response, Ts... xs) {
  bridges.run(bridge, {[=](bridge_actor* self) {
    auto once = watch(self, cb);
    self->request(dir, caf::infinite, xs...)
      .then(
        [once, to_response](typename reply_of<ToResponse>::type reply) {
          once(to_response(reply));
        },
        [once](caf::error& err) { once(error_response(err)); });
  }});
}

} // namespace

size_t job_api::pick_bridge() const {
  return bridges_->pick();
}

void job_api::stop() const {
  bridges_->stop();
}

void job_api::publish(size_t bridge, job_event ev, api_callback cb) const {
  auto job_id = ev.job_id;
  ask(*bridges_, bridge, directory_, cb,
      [job_id](uint64_t seq) {
        return api_response{202, encode_publish_ack(job_id, seq)};
      },
      publish_atom::value, std::move(ev));
}

void job_api::status(size_t bridge, std::string job_id,
                     api_callback cb) const {
  ask(*bridges_, bridge, directory_, cb,
      [](const job_snapshot& snap) {
        return api_response{200, encode_snapshot(snap)};
      },
      status_atom::value, std::move(job_id));
}

void job_api::cancel(size_t bridge, std::string job_id, std::string reason,
                     api_callback cb) const {
  ask(*bridges_, bridge, directory_, cb,
      [](const job_snapshot& snap) {
        return api_response{202, encode_snapshot(snap)};
      },
      cancel_atom::value, std::move(job_id), std::move(reason));
}

void job_api::connections(size_t bridge, std::string job_id,
                          api_callback cb) const {
  ask(*bridges_, bridge, directory_, cb,
      [job_id](const std::vector<std::string>& ids) {
        return api_response{200, encode_connections(job_id, ids)};
      },
      conns_atom::value, job_id);
}

} // namespace jobwire
