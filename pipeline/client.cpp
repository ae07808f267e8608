#include "pipeline/client.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/after.hpp"
#include "caf/io/middleman.hpp"
#include "caf/mailbox_element.hpp"
#include "caf/openssl/manager.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"

#include <simdjson.h>

#include "messages/json_codec.hpp"
#include "messages/log.hpp"
#include "messages/register_types.hpp"
#include "pipeline/error_text.hpp"
#include "pipeline/event_id.hpp"

namespace jobwire::pipeline {

namespace {

/// Tells the background thread to finish (local only, never on the wire).
using keeper_stop_atom = caf::atom_constant<caf::atom("kstop")>;

using clock_type = std::chrono::steady_clock;

// Whether `x` says that the handle it was sent to is gone for good (the
// proxy died with its connection), so waiting for a new one is the cure.
bool is_dead_handle(const caf::error& x) {
  return x.category() == caf::atom("exit")
         || (x.category() == caf::atom("system")
             && (x == caf::sec::request_receiver_down
                 || x == caf::sec::cannot_forward_to_invalid_actor));
}

// Drops the whitespace between JSON tokens; leaves `x` alone when simdjson
// says it is not JSON (validation reports that).
void minify_in_place(std::string& x) {
  // Room to spare: some simdjson kernels write whole blocks.
  std::string out(x.size() + simdjson::SIMDJSON_PADDING, '\0');
  size_t n = 0;
  if (simdjson::minify(x.data(), x.size(), out.data(), n) == simdjson::SUCCESS) {
    out.resize(n);
    x = std::move(out);
  }
}

std::string endpoint_text(const client_settings& x) {
  return x.host + ":" + std::to_string(x.port);
}

} // namespace

// -- configure ------------------------------------------------------------------

void configure(caf::actor_system_config& cfg, const link_settings& link) {
  register_types(cfg);
  cfg.load<caf::io::middleman>();
  cfg.set("middleman.heartbeat-interval", link.heartbeat_interval);
  cfg.set("middleman.connection-timeout", link.connection_timeout);
}

void configure_tls(caf::actor_system_config& cfg, std::string certificate,
                   std::string key, std::string ca_file) {
  cfg.openssl_certificate = std::move(certificate);
  cfg.openssl_key = std::move(key);
  cfg.openssl_cafile = std::move(ca_file);
  cfg.load<caf::openssl::manager>();
}

// -- state shared by the copies of a client --------------------------------------

namespace detail {

/// The ingest actor as reached over one connection. CAF compares handles by
/// actor id and node, so the handle of a new connection to the same server
/// equals that of the lost one: the generation tells them apart.
struct ingest_link {
  ingest_actor hdl;
  /// 1 for the first connection, one more for each reconnect.
  uint64_t generation = 0;
};

/// A request waiting for its reply: who waits, on which link, and the
/// message id the reply will carry.
struct waiting_request {
  caf::strong_actor_ptr self;
  uint64_t generation;
  caf::message_id reply_id;
};

struct client_state {
  client_state(caf::actor_system& sys, client_settings settings)
    : sys(sys), settings(std::move(settings)) {
    // nop
  }

  caf::actor_system& sys;
  const client_settings settings;
  event_id_source ids;

  mutable std::mutex mtx;
  std::condition_variable cv;
  // -- guarded by mtx --
  ingest_actor ingest;
  /// The generation of `ingest`, or of the last one when it is invalid.
  uint64_t generation = 0;
  bool stopping = false;
  caf::actor keeper_actor;
  bool keeper_started = false;
  std::vector<std::pair<std::string, worker_actor>> attached;
  std::vector<waiting_request> waiting;
  // --
  std::thread keeper;

  /// One connection handshake with the server's CAF port, bounded by
  /// `connect_timeout`; checks that the peer speaks `ingest_actor`.
  caf::expected<ingest_actor> connect_once(caf::scoped_actor& self) {
    std::optional<caf::expected<ingest_actor>> result;
    self
      ->request(settings.tls ? sys.openssl_manager().actor_handle()
                             : sys.middleman().actor_handle(),
                settings.connect_timeout,
                caf::connect_atom::value, settings.host, settings.port)
      .receive(
        [&](caf::node_id&, caf::strong_actor_ptr& ptr,
            std::set<std::string>& ifs) {
          if (!ptr) {
            result = caf::make_error(caf::sec::no_actor_published_at_port,
                                     settings.port);
            return;
          }
          if (!sys.assignable<ingest_actor>(ifs)) {
            result = caf::make_error(
              caf::sec::unexpected_actor_messaging_interface,
              "the peer is not a jobwire ingest actor");
            return;
          }
          result = caf::actor_cast<ingest_actor>(std::move(ptr));
        },
        [&](caf::error& err) { result = std::move(err); });
    return std::move(*result);
  }

  /// The current link if it is newer than generation `dead`, waiting up to
  /// `timeout` for the background thread to reconnect; an invalid handle on
  /// timeout or stop.
  ingest_link await_ingest(caf::timespan timeout, uint64_t dead = 0) {
    std::unique_lock guard{mtx};
    auto ready = [&] { return stopping || (ingest && generation > dead); };
    cv.wait_for(guard, timeout, ready);
    if (stopping || !ready())
      return ingest_link{};
    return ingest_link{ingest, generation};
  }

  /// Makes `hdl` the current link. Requires mtx.
  void set_ingest(ingest_actor hdl) {
    ingest = std::move(hdl);
    ++generation;
  }

  bool is_stopping() const {
    std::lock_guard guard{mtx};
    return stopping;
  }

  /// Runs `once(self, link)` until it succeeds, fails for good, or
  /// `request_attempts` tries are spent and `retry_at_least` has passed;
  /// backs off between tries.
  template <class F>
  auto retrying(F once)
    -> decltype(once(std::declval<caf::scoped_actor&>(),
                     std::declval<const ingest_link&>())) {
    caf::scoped_actor self{sys, true};
    caf::error last = caf::make_error(caf::sec::cannot_connect_to_node,
                                      endpoint_text(settings));
    uint64_t dead = 0;
    auto attempts = std::max(1u, settings.request_attempts);
    auto floor = clock_type::now() + settings.retry_at_least;
    for (unsigned i = 0; i < attempts || clock_type::now() < floor; ++i) {
      if (i > 0)
        std::this_thread::sleep_for(
          next_delay_jittered(i - 1, settings.backoff));
      auto current = await_ingest(settings.request_timeout, dead);
      if (!current.hdl) {
        if (is_stopping())
          break;
        continue;
      }
      auto res = once(self, current);
      if (res)
        return res;
      last = std::move(res.error());
      if (!is_transient(last))
        return last;
      dead = is_dead_handle(last) ? current.generation : 0;
      log::debug("jobwire request failed, retrying",
                 {{"error", error_text(last)}});
    }
    return last;
  }

  /// Sends a request on link `to` and waits for its reply, which goes to
  /// `on_reply`; returns the error otherwise. CAF 0.17 does not fail a
  /// request whose link dies, so the wait would last the whole
  /// `request_timeout`: the keeper (or `stop`) answers it in CAF's place.
  template <class OnReply, class... Ts>
  caf::error ask(caf::scoped_actor& self, const ingest_link& to,
                 OnReply on_reply, Ts&&... xs) {
    auto reply = self->request(to.hdl, settings.request_timeout,
                               std::forward<Ts>(xs)...);
    auto me = caf::actor_cast<caf::strong_actor_ptr>(self);
    {
      std::lock_guard guard{mtx};
      waiting.push_back({me, to.generation, reply.id()});
      // The link went before the keeper could see this request.
      if (stopping || !ingest || generation != to.generation)
        fail(waiting.back());
    }
    caf::error result;
    reply.receive(std::move(on_reply),
                  [&](caf::error& err) { result = std::move(err); });
    {
      std::lock_guard guard{mtx};
      auto i = std::find_if(waiting.begin(), waiting.end(), [&](auto& x) {
        return x.self == me && x.reply_id == reply.id();
      });
      if (i != waiting.end())
        waiting.erase(i);
    }
    return result;
  }

  /// Gives a waiting request the error its lost link would have given, had
  /// CAF sent one. A reply that came first wins; this one is then skipped.
  /// Requires mtx.
  void fail(const waiting_request& x) const {
    auto why = stopping ? "the client is closing"
                        : "the connection to jobwire was lost";
    x.self->enqueue(caf::make_mailbox_element(
                      nullptr, x.reply_id, {},
                      caf::make_error(caf::sec::request_receiver_down, why)),
                    nullptr);
  }

  /// Fails the requests waiting on link `gen` (every one for 0).
  /// Requires mtx.
  void fail_waiting(uint64_t gen) const {
    for (auto& x : waiting)
      if (gen == 0 || x.generation == gen)
        fail(x);
  }

  /// Attaches every remembered worker again after a reconnect.
  void reattach(caf::scoped_actor& self, const ingest_actor& hdl) {
    std::vector<std::pair<std::string, worker_actor>> xs;
    {
      std::lock_guard guard{mtx};
      xs = attached;
    }
    for (auto& [job_id, worker] : xs)
      self->request(hdl, settings.request_timeout, attach_atom::value, job_id,
                    worker)
        .receive(
          [&, &job_id = job_id, &worker = worker](job_snapshot& x) {
            deliver_pending_cancel(job_id, worker, x);
          },
          [&, &job_id = job_id](caf::error& err) {
            log::warn("re-attaching a worker failed",
                      {{"job_id", job_id}, {"error", error_text(err)}});
          });
  }

  /// A cancel request may have been lost with the link (sent to a worker
  /// whose connection had died unnoticed), or have ended the job while no
  /// worker was attached (a server restart, a link lost); the snapshot
  /// still says so. The reason is not in the snapshot, so the worker gets
  /// an empty one.
  static void deliver_pending_cancel(const std::string& job_id,
                                     const worker_actor& worker,
                                     const job_snapshot& x) {
    if (x.cancel_requested
        && (x.status == job_status::running
            || x.status == job_status::cancelled))
      caf::anon_send(worker, cancel_atom::value, job_id, std::string{});
  }

  /// Waits up to `delay` unless told to stop; returns false on stop.
  bool pause(caf::scoped_actor& self, caf::timespan delay) {
    bool stop = false;
    auto deadline = clock_type::now() + delay;
    while (!stop) {
      auto left = deadline - clock_type::now();
      if (left <= clock_type::duration::zero())
        break;
      self->receive([&](keeper_stop_atom) { stop = true; },
                    [](caf::down_msg&) {}, // a stale monitor
                    caf::after(left) >> [] {});
    }
    return !stop;
  }

  /// The background thread: watches the ingest actor and reconnects.
  void run_keeper() {
    caf::scoped_actor self{sys, true};
    {
      std::lock_guard guard{mtx};
      keeper_actor = caf::actor_cast<caf::actor>(self);
      keeper_started = true;
    }
    cv.notify_all();
    unsigned attempt = 0;
    for (;;) {
      ingest_actor current;
      uint64_t current_generation = 0;
      {
        std::lock_guard guard{mtx};
        if (stopping)
          break;
        current = ingest;
        current_generation = generation;
      }
      if (current) {
        // Wait for the link to drop (CAF's heartbeats notice a silent one).
        self->monitor(current);
        bool lost = false;
        bool stop = false;
        while (!lost && !stop)
          self->receive(
            [&](caf::down_msg& dm) { lost = dm.source == current.address(); },
            [&](keeper_stop_atom) { stop = true; });
        if (stop)
          break;
        {
          std::lock_guard guard{mtx};
          if (generation == current_generation)
            ingest = ingest_actor{};
          fail_waiting(current_generation);
        }
        log::warn("lost the connection to jobwire, reconnecting",
                  {{"endpoint", endpoint_text(settings)}});
      }
      // Reconnect with backoff.
      if (!pause(self, next_delay_jittered(attempt++, settings.backoff)))
        break;
      auto hdl = connect_once(self);
      if (!hdl) {
        log::debug("reconnect failed", {{"endpoint", endpoint_text(settings)},
                                        {"error", error_text(hdl.error())}});
        continue;
      }
      attempt = 0;
      reattach(self, *hdl);
      {
        std::lock_guard guard{mtx};
        set_ingest(std::move(*hdl));
      }
      cv.notify_all();
      log::info("reconnected to jobwire",
                {{"endpoint", endpoint_text(settings)}});
    }
    std::lock_guard guard{mtx};
    keeper_actor = nullptr;
  }

  /// Stops the background thread and fails waiting calls.
  void stop() {
    caf::actor keeper_hdl;
    {
      std::unique_lock guard{mtx};
      if (stopping)
        return;
      stopping = true;
      ingest = ingest_actor{};
      fail_waiting(0);
      // The thread may not have made its actor yet.
      cv.wait(guard, [&] { return keeper_started || !keeper.joinable(); });
      keeper_hdl = keeper_actor;
    }
    cv.notify_all();
    if (keeper_hdl)
      caf::anon_send(keeper_hdl, keeper_stop_atom::value);
    if (keeper.joinable() && keeper.get_id() != std::this_thread::get_id())
      keeper.join();
  }
};

} // namespace detail

// -- client ------------------------------------------------------------------------

client::client(std::shared_ptr<detail::client_state> state)
  : state_(std::move(state)) {
  auto st = state_;
  keeper_ = std::shared_ptr<void>(nullptr, [st](void*) { st->stop(); });
}

client::~client() = default;

caf::expected<client> client::connect(caf::actor_system& sys,
                                      client_settings settings) {
  if (!sys.has_middleman())
    return caf::make_error(caf::sec::feature_disabled,
                           "the actor system has no middleman: call "
                           "jobwire::pipeline::configure on its config");
  auto st = std::make_shared<detail::client_state>(sys, std::move(settings));
  auto attempts = std::max(1u, st->settings.connect_attempts);
  caf::error last;
  {
    caf::scoped_actor self{sys, true};
    for (unsigned i = 0; i < attempts; ++i) {
      if (i > 0)
        std::this_thread::sleep_for(
          next_delay_jittered(i - 1, st->settings.backoff));
      auto hdl = st->connect_once(self);
      if (hdl) {
        std::lock_guard guard{st->mtx};
        st->set_ingest(std::move(*hdl));
        last = caf::error{};
        break;
      }
      last = std::move(hdl.error());
      if (last == caf::sec::unexpected_actor_messaging_interface)
        break;
    }
  }
  if (last)
    return last;
  st->keeper = std::thread{[st] { st->run_keeper(); }};
  return client{std::move(st)};
}

caf::expected<uint64_t> client::publish(job_event ev) {
  if (ev.event_id.empty())
    ev.event_id = state_->ids.next();
  if (ev.type == event_type::stage_complete
      || ev.type == event_type::job_complete)
    minify_in_place(ev.results);
  if (auto err = validate_event(ev))
    return err;
  return state_->retrying(
    [&](caf::scoped_actor& self,
        const detail::ingest_link& to) -> caf::expected<uint64_t> {
      uint64_t result = 0;
      if (auto err = state_->ask(
            self, to, [&](std::string&, uint64_t seq) { result = seq; },
            publish_atom::value, ev))
        return err;
      return result;
    });
}

caf::expected<job_snapshot> client::status(const std::string& job_id) {
  return state_->retrying(
    [&](caf::scoped_actor& self,
        const detail::ingest_link& to) -> caf::expected<job_snapshot> {
      job_snapshot result;
      if (auto err = state_->ask(
            self, to, [&](job_snapshot& x) { result = std::move(x); },
            status_atom::value, job_id))
        return err;
      return result;
    });
}

caf::expected<job_snapshot> client::attach(const std::string& job_id,
                                           const worker_actor& worker) {
  {
    // Remember first: a reconnect while the request runs attaches it too.
    std::lock_guard guard{state_->mtx};
    state_->attached.emplace_back(job_id, worker);
  }
  auto res = state_->retrying(
    [&](caf::scoped_actor& self,
        const detail::ingest_link& to) -> caf::expected<job_snapshot> {
      job_snapshot result;
      if (auto err = state_->ask(
            self, to, [&](job_snapshot& x) { result = std::move(x); },
            attach_atom::value, job_id, worker))
        return err;
      return result;
    });
  if (res)
    detail::client_state::deliver_pending_cancel(job_id, worker, *res);
  if (!res) {
    std::lock_guard guard{state_->mtx};
    auto& xs = state_->attached;
    auto i = std::find(xs.begin(), xs.end(), std::pair{job_id, worker});
    if (i != xs.end())
      xs.erase(i);
  }
  return res;
}

void client::detach(const std::string& job_id, const worker_actor& worker) {
  ingest_actor hdl;
  {
    std::lock_guard guard{state_->mtx};
    auto& xs = state_->attached;
    auto i = std::find(xs.begin(), xs.end(), std::pair{job_id, worker});
    if (i != xs.end())
      xs.erase(i);
    hdl = state_->ingest;
  }
  if (hdl)
    caf::anon_send(hdl, detach_atom::value, job_id, worker);
}

std::string client::next_event_id() {
  return state_->ids.next();
}

void client::close() {
  state_->stop();
}

bool client::connected() const {
  std::lock_guard guard{state_->mtx};
  return static_cast<bool>(state_->ingest);
}

uint64_t client::reconnects() const {
  std::lock_guard guard{state_->mtx};
  // The first link is generation 1; each reconnect makes the next.
  return state_->generation > 0 ? state_->generation - 1 : 0;
}

ingest_actor client::ingest() const {
  std::lock_guard guard{state_->mtx};
  return state_->ingest;
}

const client_settings& client::settings() const {
  return state_->settings;
}

caf::actor_system& client::system() const {
  return state_->sys;
}

} // namespace jobwire::pipeline
